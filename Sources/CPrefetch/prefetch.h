#ifndef MCPSONAR_PREFETCH_H
#define MCPSONAR_PREFETCH_H
/* Swift has no way to ask for a cache line ahead of its use: this inline function compiles to
 * one PREFETCHT0, which never faults, whatever the address. */
static inline __attribute__((always_inline)) void sonar_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
#endif
