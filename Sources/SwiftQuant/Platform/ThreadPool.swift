// The worker threads behind the kernels' parallel loops: a small pthread pool sized to the cores (or to
// SWIFTQUANT_NUM_THREADS), with one operation, parallelFor over independent blocks.
//
// Safety rules, since the library may be called from many threads at once:
// - One caller at a time owns the workers (a try-lock); a caller that finds them busy, or a block that
//   itself calls parallelFor, runs its loop inline. Nobody ever waits for the pool, so it cannot deadlock.
// - The caller works too, and returns only when every block has finished.
// - In a child process after fork() the workers do not exist; the loop then runs inline.
// Blocks write disjoint outputs, so results never depend on the thread count or the order of blocks.

import _SwiftQuantShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool, created on first use.
    static let shared = ThreadPool(threads: ThreadPool.configuredThreads())

    /// Threads that run blocks, counting the caller.
    let size: Int
    private let owner: pid_t
    /// Held by the caller that owns the workers for one parallelFor.
    private let busy: UnsafeMutablePointer<pthread_mutex_t>
    /// Guards the job state below; `wake` announces a job, `done` its last block.
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let done: UnsafeMutablePointer<pthread_cond_t>
    private var generation = 0
    private var body: ((Int) -> Void)? = nil
    private var count = 0
    private var next = 0
    private var completed = 0

    /// SWIFTQUANT_NUM_THREADS when it is a positive integer, else the online CPUs.
    static func configuredThreads() -> Int {
        if let raw = getenv("SWIFTQUANT_NUM_THREADS"), let v = Int(String(cString: raw)), v > 0 { return Swift.min(v, 1024) }
        return Swift.max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)
    }

    init(threads: Int) {
        size = Swift.max(threads, 1)
        owner = getpid()
        busy = .allocate(capacity: 1)
        lock = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_mutex_init(busy, nil)
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        var started = 1
        for _ in 1..<size where spawnWorker() { started += 1 }
        // If the system refused threads, the ones that started still serve; none at all means inline.
        workers = started - 1
    }

    /// Workers actually running (size - 1 unless thread creation failed).
    private(set) var workers = 0

    private func spawnWorker() -> Bool {
        let ctx = Unmanaged.passRetained(self).toOpaque()  // the pool lives for the whole process
        #if canImport(Glibc)
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { ctx in
            Unmanaged<ThreadPool>.fromOpaque(ctx!).takeUnretainedValue().workerLoop()
        }, ctx)
        #else
        var t: pthread_t? = nil
        let rc = pthread_create(&t, nil, { ctx in
            Unmanaged<ThreadPool>.fromOpaque(ctx).takeUnretainedValue().workerLoop()
        }, ctx)
        #endif
        guard rc == 0 else {
            Unmanaged<ThreadPool>.fromOpaque(ctx).release()
            return false
        }
        #if canImport(Glibc)
        pthread_detach(t)
        #else
        if let t { pthread_detach(t) }
        #endif
        return true
    }

    private func workerLoop() -> Never {
        // A new thread inherits its creator's MXCSR; blocks must compute under the default environment.
        _ = _sq_shim_fpenv_enter()
        pthread_mutex_lock(lock)
        var seen = 0
        while true {
            while generation == seen { pthread_cond_wait(wake, lock) }
            seen = generation
            runBlocks()
        }
    }

    /// Takes blocks until none are left. Called and returns with `lock` held.
    private func runBlocks() {
        while next < count, let body {
            let i = next
            next += 1
            pthread_mutex_unlock(lock)
            body(i)
            pthread_mutex_lock(lock)
            completed += 1
            if completed == count { pthread_cond_signal(done) }
        }
    }

    /// Runs body(0) ..< body(count), on the workers and the caller, and returns when all have finished.
    /// Inline (in order, on the caller) when there is one block, no workers, the workers are busy with
    /// another caller's loop, or this process is a fork of the one that started them.
    func parallelFor(_ count: Int, _ body: @escaping (Int) -> Void) {
        guard count > 1, workers > 0, getpid() == owner, pthread_mutex_trylock(busy) == 0 else {
            for i in 0..<count { body(i) }
            return
        }
        pthread_mutex_lock(lock)
        self.body = body
        self.count = count
        next = 0
        completed = 0
        generation &+= 1
        pthread_cond_broadcast(wake)
        runBlocks()
        while completed < count { pthread_cond_wait(done, lock) }
        self.body = nil
        self.count = 0
        pthread_mutex_unlock(lock)
        pthread_mutex_unlock(busy)
    }
}
