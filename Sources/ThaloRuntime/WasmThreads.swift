import Foundation

/// A serial executor with a thread of its own.
///
/// Guest code is CPU-bound, and one call may run up to its fuel budget. On Swift's
/// cooperative pool (one thread per core) a few such calls would hold every thread, and
/// the server's requests, the stores' replies and the cluster's lease renewals would wait
/// behind them. Each ``InstanceWorker`` therefore runs on one of these: the operating system
/// shares the cores between its thread and the pool, and a busy module slows the rest of
/// the process down instead of stopping it.
///
/// The thread ends when the executor is released (its actor is gone, so no job is left).
final class ThreadExecutor: SerialExecutor, @unchecked Sendable {
    /// The jobs, shared with the thread, which keeps it after the executor is gone.
    private final class Queue: @unchecked Sendable {
        let condition = NSCondition()
        var jobs: [UnownedJob] = []
        var closed = false
    }

    private let queue = Queue()

    init(name: String) {
        let queue = self.queue
        let executor = UnownedSerialExecutor(ordinary: self)
        let thread = Thread {
            while true {
                // Everything queued so far, run in order outside the lock.
                queue.condition.lock()
                while queue.jobs.isEmpty && !queue.closed { queue.condition.wait() }
                let jobs = queue.jobs
                queue.jobs = []
                queue.condition.unlock()
                if jobs.isEmpty { return }
                for job in jobs { job.runSynchronously(on: executor) }
            }
        }
        thread.name = name
        thread.start()
    }

    deinit {
        queue.condition.lock()
        queue.closed = true
        queue.condition.signal()
        queue.condition.unlock()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.condition.lock()
        queue.jobs.append(job)
        queue.condition.signal()
        queue.condition.unlock()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}

/// Runs CPU-bound work (loading a module, the calls that check it at publish) on a thread
/// of its own, for the reason ``ThreadExecutor`` gives, and returns its result.
func offCooperativePool<T: Sendable>(
    _ name: String, _ body: @escaping @Sendable () throws(RuntimeError) -> T
) async throws(RuntimeError) -> T {
    let result: Result<T, RuntimeError> = await withCheckedContinuation { continuation in
        let thread = Thread {
            do throws(RuntimeError) {
                continuation.resume(returning: .success(try body()))
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        thread.name = name
        thread.start()
    }
    return try result.get()
}
