#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CPU time the calling thread has used, in seconds.
///
/// A fuzz test times one input by this, not by the wall clock: on a shared
/// 2-core machine the whole process is sometimes descheduled for a second,
/// and that is not a slow parser. Read it on both sides of synchronous code
/// only: across an `await` the task may resume on another thread.
public func threadCPUTime() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000
}
