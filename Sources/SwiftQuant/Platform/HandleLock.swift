// The lock inside each long-lived mutable handle (observers, Hessian observers): swiftquant.h convention 4
// promises that calls on one handle from several threads are correct, so they take turns on this mutex.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class HandleLock {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs body holding this lock and `other`'s (taken in address order, so that two merges in opposite
    /// directions cannot deadlock; `other` may be this lock itself).
    func with<R>(_ other: HandleLock? = nil, _ body: () throws(SQError) -> R) throws(SQError) -> R {
        var order = [self]
        if let other, other !== self {
            order = ObjectIdentifier(self) < ObjectIdentifier(other) ? [self, other] : [other, self]
        }
        for l in order { pthread_mutex_lock(l.mutex) }
        defer { for l in order.reversed() { pthread_mutex_unlock(l.mutex) } }
        return try body()
    }
}
