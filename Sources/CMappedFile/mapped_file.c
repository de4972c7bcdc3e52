#include "mapped_file.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int sonar_map_fault_flags[SONAR_MAP_SLOTS];

// Each slot's range; a start of 0 is a free slot. Read by the handler, so only atomics.
static uintptr_t starts[SONAR_MAP_SLOTS];
static uintptr_t ends[SONAR_MAP_SLOTS];
static uintptr_t page_mask;
static struct sigaction previous;
static pthread_once_t installed = PTHREAD_ONCE_INIT;

static void on_sigbus(int signal_number, siginfo_t *info, void *context) {
    uintptr_t at = (uintptr_t)info->si_addr;
    for (int i = 0; i < SONAR_MAP_SLOTS; i++) {
        uintptr_t start = __atomic_load_n(&starts[i], __ATOMIC_ACQUIRE);
        uintptr_t end = __atomic_load_n(&ends[i], __ATOMIC_ACQUIRE);
        if (start == 0 || at < start || at >= end) continue;
        // The file is shorter than its mapping now: zeros from the faulting page to the end,
        // so the access that faulted completes when the handler returns.
        uintptr_t page = at & page_mask;
        void *zeros = mmap((void *)page, end - page, PROT_READ,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (zeros == MAP_FAILED) break;
        __atomic_store_n(&sonar_map_fault_flags[i], 1, __ATOMIC_RELAXED);
        return;
    }
    // Not a watched mapping: whatever was there before handles it.
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction != NULL) {
        previous.sa_sigaction(signal_number, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(signal_number);
    } else {
        // Returning runs the faulting access again, which now ends the process as before.
        signal(SIGBUS, SIG_DFL);
    }
}

static void install(void) {
    long page = sysconf(_SC_PAGESIZE);
    page_mask = ~(uintptr_t)((page > 0 ? page : 4096) - 1);
    struct sigaction action = {0};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previous);
}

int sonar_map_watch(const void *base, size_t length) {
    if (base == NULL || length == 0) return -1;
    pthread_once(&installed, install);
    for (int i = 0; i < SONAR_MAP_SLOTS; i++) {
        uintptr_t expected = 0;
        // Claim the slot with a placeholder start the handler never matches (end is 0).
        if (!__atomic_compare_exchange_n(&starts[i], &expected, (uintptr_t)1, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
        __atomic_store_n(&sonar_map_fault_flags[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&ends[i], (uintptr_t)base + length, __ATOMIC_RELEASE);
        __atomic_store_n(&starts[i], (uintptr_t)base, __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

void sonar_map_unwatch(int slot) {
    if (slot < 0 || slot >= SONAR_MAP_SLOTS) return;
    __atomic_store_n(&ends[slot], 0, __ATOMIC_RELEASE);
    __atomic_store_n(&starts[slot], 0, __ATOMIC_RELEASE);
}
