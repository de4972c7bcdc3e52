#ifndef MCPSONAR_MAPPED_FILE_H
#define MCPSONAR_MAPPED_FILE_H

#include <stddef.h>

/// What reading a capture file through a mapping needs from C: a SIGBUS guard.
///
/// A capture file read through a mapping raises SIGBUS when a page is touched that the file no
/// longer has (it was cut short while being read). The guard turns that into zeros for the rest
/// of the mapping and a flag the reader checks, instead of a crash. See MappedRecords.swift.

/// How many mappings can be watched at once.
#define SONAR_MAP_SLOTS 64

/// Set (1) by the SIGBUS handler for the slot whose mapping lost pages. Read with
/// `sonar_map_faulted`.
extern int sonar_map_fault_flags[SONAR_MAP_SLOTS];

/// Watches [base, base + length): returns the slot, or -1 when every slot is taken (the caller
/// then does not read through a mapping). Installs the handler the first time.
int sonar_map_watch(const void *base, size_t length);

/// Stops watching a slot (before its mapping is unmapped).
void sonar_map_unwatch(int slot);

/// Whether the slot's mapping has lost pages, as of every access to it the caller made before
/// (the handler runs in the faulting thread, so a compiler barrier is all the order needed).
static inline int sonar_map_faulted(int slot) {
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&sonar_map_fault_flags[slot], __ATOMIC_RELAXED);
}

#endif
