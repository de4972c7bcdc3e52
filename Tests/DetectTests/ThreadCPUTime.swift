#if canImport(Glibc)
import Glibc
#endif

/// The CPU time the calling thread spends in `body`, in seconds. The linear-time checks compare
/// two sizes by it rather than by wall time: the suite's other tests run beside them on the same
/// cores (and other processes on the machine), which add wall time to one size and not the other
/// (a 4x input measured 10.4x and 11.4x by wall time with a build or two busy loops beside it).
func threadCPUSeconds(_ body: () -> Void) -> Double {
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
    body()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
    return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
}
