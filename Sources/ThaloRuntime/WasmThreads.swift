import Foundation

/// Runs CPU-bound work (loading a module, the calls that check it at publish) on a thread
/// of its own and returns its result.
///
/// A module nobody has run yet may spin for its whole fuel budget in every probe call. On
/// Swift's cooperative pool (one thread per core) a few such calls would hold every thread,
/// and the server's requests and the stores' replies would wait behind them.
///
/// Commands do not take this path: a thread hop in each direction cost them 10–40% of
/// their throughput (BENCHMARKS.md, "Guest calls on the cooperative pool"). A command
/// holds a pool thread for at most one call's budget.
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
