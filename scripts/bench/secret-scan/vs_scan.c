/*
 * vs_scan: the secret scanner's literal prefilter done by Vectorscan (Hyperscan), to compare with
 * the hand-written one (Sources/Detect/Secrets/SecretScanner.swift; `mcpsonar bench
 * --secrets-strings`). Measurement only: nothing in the product links this.
 *
 * usage: vs_scan LITERALS STRINGS [REPS [PASSES]]
 *   LITERALS  one literal a line, "c<TAB>text" (case-sensitive) or "i<TAB>text" (ASCII caseless),
 *             as literals.py writes them from rules/secrets.yml
 *   STRINGS   records of a 4-byte little-endian length and the bytes, as extract_strings.py writes
 *   REPS      timed repetitions, the best is reported (default 5)
 *   PASSES    passes over the strings in each repetition (default 20), so that one lasts long
 *             enough to time (the 30 MB corpus gives about 2 MB of strings)
 *
 * One literal-mode block database (hs_compile_lit_multi). Every match of every literal is
 * reported, as the Swift side counts every (literal, position) its tables find: neither
 * HS_FLAG_SINGLEMATCH (it would hide a second occurrence of a prefix in the same string, which the
 * scanner must validate too) nor HS_FLAG_SOM_LEFTMOST (a literal's start is its end minus its
 * length) is wanted. Two ways to call it are timed:
 *   per string  one hs_scan per string, as the detector walks a message's strings;
 *   one block   the whole file once, the strings joined by NUL (no literal holds one), as if the
 *               detector scanned a message's text once and mapped hits back to its strings.
 * Times: wall (CLOCK_MONOTONIC) and this thread's CPU (CLOCK_THREAD_CPUTIME_ID), best of REPS each,
 * divided by PASSES: the figures are those of one pass.
 */
#define _GNU_SOURCE
#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "%s: read failed\n", path); exit(2); }
    fclose(f);
    buf[n] = 0;
    *size = (size_t)n;
    return buf;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx) {
    (void)id; (void)from; (void)to; (void)flags;
    ++*(unsigned long long *)ctx;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s LITERALS STRINGS [REPS [PASSES]]\n", argv[0]); return 2; }
    int reps = argc > 3 ? atoi(argv[3]) : 5, passes = argc > 4 ? atoi(argv[4]) : 20;
    if (reps < 1) reps = 1;
    if (passes < 1) passes = 1;

    /* Literals. */
    size_t lsize;
    char *ltext = (char *)slurp(argv[1], &lsize);
    size_t cap = 256, count = 0;
    const char **exprs = malloc(cap * sizeof *exprs);
    size_t *lens = malloc(cap * sizeof *lens);
    unsigned *flags = malloc(cap * sizeof *flags), *ids = malloc(cap * sizeof *ids);
    for (char *line = strtok(ltext, "\n"); line; line = strtok(NULL, "\n")) {
        if (strlen(line) < 3 || line[1] != '\t' || (line[0] != 'c' && line[0] != 'i')) {
            fprintf(stderr, "%s: bad line '%s'\n", argv[1], line); return 2;
        }
        if (count == cap) {
            cap *= 2;
            exprs = realloc(exprs, cap * sizeof *exprs); lens = realloc(lens, cap * sizeof *lens);
            flags = realloc(flags, cap * sizeof *flags); ids = realloc(ids, cap * sizeof *ids);
        }
        exprs[count] = line + 2;
        lens[count] = strlen(line + 2);
        flags[count] = line[0] == 'i' ? HS_FLAG_CASELESS : 0;
        ids[count] = (unsigned)count;
        count++;
    }

    /* Strings. */
    size_t ssize;
    unsigned char *sdata = slurp(argv[2], &ssize);
    size_t n = 0, bytes = 0;
    for (size_t at = 0; at + 4 <= ssize;) {
        uint32_t len = (uint32_t)sdata[at] | (uint32_t)sdata[at + 1] << 8 | (uint32_t)sdata[at + 2] << 16 | (uint32_t)sdata[at + 3] << 24;
        if (at + 4 + len > ssize) { fprintf(stderr, "%s: truncated record\n", argv[2]); return 2; }
        at += 4 + len; n++; bytes += len;
    }
    const unsigned char **sp = malloc(n * sizeof *sp);
    uint32_t *sl = malloc(n * sizeof *sl);
    unsigned char *joined = malloc(bytes + n);
    size_t jn = 0;
    for (size_t at = 0, k = 0; k < n; k++) {
        uint32_t len = (uint32_t)sdata[at] | (uint32_t)sdata[at + 1] << 8 | (uint32_t)sdata[at + 2] << 16 | (uint32_t)sdata[at + 3] << 24;
        sp[k] = sdata + at + 4; sl[k] = len;
        memcpy(joined + jn, sp[k], len); jn += len; joined[jn++] = 0;
        at += 4 + len;
    }

    /* Compile, best of REPS (the first pays for page faults). */
    hs_database_t *db = NULL;
    double compileBest = 1e9;
    for (int r = 0; r < reps; r++) {
        hs_compile_error_t *err = NULL;
        hs_database_t *d = NULL;
        double t0 = now(CLOCK_MONOTONIC);
        if (hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)count, HS_MODE_BLOCK, NULL, &d, &err) != HS_SUCCESS) {
            fprintf(stderr, "compile failed: %s\n", err ? err->message : "?"); return 2;
        }
        double t = now(CLOCK_MONOTONIC) - t0;
        if (t < compileBest) compileBest = t;
        if (db) hs_free_database(db);
        db = d;
    }
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) { fprintf(stderr, "hs_alloc_scratch failed\n"); return 2; }
    size_t dbSize = 0, scratchSize = 0;
    hs_database_size(db, &dbSize);
    hs_scratch_size(scratch, &scratchSize);

    /* Scan. */
    double wallBest = 1e9, cpuBest = 1e9, blockWallBest = 1e9, blockCpuBest = 1e9;
    unsigned long long hits = 0, blockHits = 0;
    for (int r = 0; r < reps; r++) {
        unsigned long long h = 0;
        double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
        for (int pass = 0; pass < passes; pass++) {
            for (size_t k = 0; k < n; k++) {
                if (hs_scan(db, (const char *)sp[k], sl[k], 0, scratch, on_match, &h) != HS_SUCCESS) {
                    fprintf(stderr, "hs_scan failed\n"); return 2;
                }
            }
        }
        double w = (now(CLOCK_MONOTONIC) - w0) / passes, c = (now(CLOCK_THREAD_CPUTIME_ID) - c0) / passes;
        if (w < wallBest) wallBest = w;
        if (c < cpuBest) cpuBest = c;
        hits = h / (unsigned long long)passes;

        h = 0;
        w0 = now(CLOCK_MONOTONIC); c0 = now(CLOCK_THREAD_CPUTIME_ID);
        for (int pass = 0; pass < passes; pass++) {
            if (hs_scan(db, (const char *)joined, (unsigned)jn, 0, scratch, on_match, &h) != HS_SUCCESS) {
                fprintf(stderr, "hs_scan failed\n"); return 2;
            }
        }
        w = (now(CLOCK_MONOTONIC) - w0) / passes; c = (now(CLOCK_THREAD_CPUTIME_ID) - c0) / passes;
        if (w < blockWallBest) blockWallBest = w;
        if (c < blockCpuBest) blockCpuBest = c;
        blockHits = h / (unsigned long long)passes;
    }

    printf("vectorscan %s: %zu literals, database %zu bytes, scratch %zu bytes, compile %.3f ms\n",
           hs_version(), count, dbSize, scratchSize, compileBest * 1e3);
    printf("input: %zu strings, %zu bytes (mean %.1f bytes); best of %d, each %d passes\n", n, bytes,
           n ? (double)bytes / (double)n : 0.0, reps, passes);
    printf("per string: %llu literal hits, wall %.6f s = %.1f MB/s, %.1f ns/string; cpu %.6f s = %.1f MB/s, %.1f ns/string\n",
           hits, wallBest, bytes / wallBest / 1e6, wallBest * 1e9 / (double)n, cpuBest, bytes / cpuBest / 1e6, cpuBest * 1e9 / (double)n);
    printf("one block: %llu literal hits, wall %.6f s = %.1f MB/s, %.1f ns/string; cpu %.6f s = %.1f MB/s, %.1f ns/string\n",
           blockHits, blockWallBest, bytes / blockWallBest / 1e6, blockWallBest * 1e9 / (double)n,
           blockCpuBest, bytes / blockCpuBest / 1e6, blockCpuBest * 1e9 / (double)n);
    hs_free_scratch(scratch);
    hs_free_database(db);
    return 0;
}
