#ifndef MCPSONAR_HINTS_H
#define MCPSONAR_HINTS_H

/// Hints to the processor that Swift has no words for. A hint never faults and changes no
/// result: a wrong one costs a wasted fetch.

/// Asks for the cache line at `p` ahead of its use (read, kept in every cache level).
static inline void sonar_prefetch(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

/// Asks for the `bytes` bytes from `p`, a line at a time.
static inline void sonar_prefetch_range(const void *p, long bytes) {
    for (long offset = 0; offset < bytes; offset += 64) __builtin_prefetch((const char *)p + offset, 0, 3);
}

#endif
