// The thread pool: every index runs once, nested and concurrent callers run inline instead of waiting (no
// deadlock), and products computed from many threads at once are exact.
import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import SwiftQuant

/// A counter several threads bump (the pool's blocks run concurrently).
final class Counter: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private(set) var values: [Int]
    init(_ n: Int) {
        values = [Int](repeating: 0, count: n)
        pthread_mutex_init(lock, nil)
    }
    deinit { lock.deallocate() }
    func bump(_ i: Int) {
        pthread_mutex_lock(lock)
        values[i] += 1
        pthread_mutex_unlock(lock)
    }
}

final class ThreadPoolTests: XCTestCase {
    func testEveryIndexOnceWhateverTheSize() {
        for size in [1, 2, 3, 5] {
            let pool = ThreadPool(threads: size)
            for count in [0, 1, 2, 7, 100] {
                let c = Counter(count)
                pool.parallelFor(count) { c.bump($0) }
                XCTAssertEqual(c.values, [Int](repeating: 1, count: count), "pool of \(size), \(count) blocks")
            }
        }
    }

    func testNestedLoopsRunInline() {
        let pool = ThreadPool(threads: 3)
        let c = Counter(16)
        pool.parallelFor(4) { i in
            pool.parallelFor(4) { j in c.bump(i * 4 + j) }  // the pool is busy: runs on this thread
        }
        XCTAssertEqual(c.values, [Int](repeating: 1, count: 16))
    }

    func testConfiguredThreadsIsPositive() {
        XCTAssertGreaterThanOrEqual(ThreadPool.configuredThreads(), 1)
        XCTAssertGreaterThanOrEqual(ThreadPool.shared.size, 1)
    }

    #if canImport(Glibc)
    /// Products large enough to use the pool, from several threads at once: each caller either gets the
    /// workers or runs inline, and every result is exact.
    func testConcurrentProductsAreExact() {
        let m = 96, k = 300, n = 200
        let a = (0..<(m * k)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let b = (0..<(k * n)).map { UInt8(truncatingIfNeeded: $0 &* 91 &+ 5) }
        var want = [Int32](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Int32 = 0
                for kk in 0..<k { s &+= (Int32(a[i * k + kk]) - 3) * (Int32(Int8(bitPattern: b[kk * n + j])) + 2) }
                want[i * n + j] = s
            }
        }
        let callers = 4, rounds = 5
        let failures = Counter(callers)
        final class Context { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
        var threads: [pthread_t] = []
        for t in 0..<callers {
            let ctx = Context {
                for _ in 0..<rounds {
                    var c = [Int32](repeating: 0, count: m * n)
                    let st = sqMatMulI32(a, 1, [Int64(m), Int64(k)], 2, 3, b, 0, [Int64(k), Int64(n)], 2, [-2], 1, &c, Int64(m * n))
                    if st != 0 || c != want { failures.bump(t) }
                }
            }
            var th = pthread_t()
            let rc = pthread_create(&th, nil, { p in
                Unmanaged<Context>.fromOpaque(p!).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(ctx).toOpaque())
            XCTAssertEqual(rc, 0)
            threads.append(th)
        }
        for th in threads { pthread_join(th, nil) }
        XCTAssertEqual(failures.values, [Int](repeating: 0, count: callers))
    }
    #endif
}
