// What one dependent load costs on this machine as the data a program walks grows: a chase of
// pointers through a buffer of each size, one pointer a 64-byte line, in a random cycle (so
// neither the hardware prefetchers nor the order of the lines help), with 4 KiB pages and with
// transparent huge pages asked for (`madvise`). The sizes where the time jumps are where the
// caches (and the TLB) end: a sensor whose thousand interleaved flows touch more than that per
// round of packets pays the larger figure on every first touch (docs/performance.md,
// "Twenty-fourth round").
//
//   clang -O2 scripts/bench/memory-latency.c -o /tmp/memory-latency && /tmp/memory-latency
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

enum { line = 64, huge = 2 << 20 };

// xorshift: the same cycle on every run.
static uint64_t next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double chase(size_t bytes, int hugePages) {
    size_t lines = bytes / line;
    size_t mapped = (bytes < huge ? huge : bytes) + huge;
    char *raw = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t *order = malloc(lines * sizeof *order);
    if (raw == MAP_FAILED || order == NULL) { perror("memory"); exit(1); }
    char *buf = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
    if (hugePages) madvise(buf, mapped - huge, MADV_HUGEPAGE);
    for (size_t i = 0; i < lines; i++) order[i] = i;
    uint64_t seed = 0x9E3779B97F4A7C15u;
    for (size_t i = lines - 1; i > 0; i--) {
        size_t j = next(&seed) % (i + 1);
        size_t t = order[i]; order[i] = order[j]; order[j] = t;
    }
    for (size_t i = 0; i < lines; i++) *(void **)(buf + order[i] * line) = buf + order[(i + 1) % lines] * line;
    void *p = buf;
    const long steps = 20000000;
    for (long i = 0; i < steps / 10; i++) p = *(void **)p; // warm up
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < steps; i++) p = *(void **)p;
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (p == NULL) puts(""); // keeps the chase
    free(order);
    munmap(raw, mapped);
    return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / steps;
}

int main(void) {
    const size_t kib[] = {16, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536};
    puts("   KiB   4 KiB pages   huge pages   (ns a dependent load)");
    for (size_t i = 0; i < sizeof kib / sizeof kib[0]; i++)
        printf("%6zu   %11.1f   %10.1f\n", kib[i], chase(kib[i] << 10, 0), chase(kib[i] << 10, 1));
    return 0;
}
