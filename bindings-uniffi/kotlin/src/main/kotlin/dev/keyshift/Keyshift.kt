// Hand-written Kotlin idioms over the generated bindings (dev.keyshift, keyshift_uniffi.kt):
// lambdas for the host callbacks, with the host's own exception rethrown unchanged; a Flow of
// migration progress; the error details as properties. No keyshift logic lives here.
package dev.keyshift

import java.util.concurrent.atomic.AtomicReference
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.launch

/** HTTP status of the answer that failed, when the error came from the server. */
val KeyshiftException.status: UShort? get() = detail().status

/** The server's request id (`req_…`), when known. */
val KeyshiftException.requestId: String? get() = detail().requestId

/** The input field at fault (`invalid_input`, `bad_request`; `cancel` for a cancelled migration). */
val KeyshiftException.field: String? get() = detail().field

/**
 * Keeps the first exception a host callback threw during one call. The callback fails the
 * native call with a `KeyshiftException.Io`; [rethrowing] then throws the kept original, so the
 * caller sees exactly what its callback threw.
 */
internal class HostFailure {
    private val first = AtomicReference<Throwable?>(null)

    fun keep(e: Throwable): KeyshiftException {
        first.compareAndSet(null, e)
        return e as? KeyshiftException ?: KeyshiftException.Io(
            ErrorDetail(
                code = "io",
                message = "a host callback threw ${e.javaClass.name}",
                status = null,
                requestId = null,
                field = "callback",
                record = null,
            ),
        )
    }

    suspend fun <T> rethrowing(call: suspend () -> T): T =
        try {
            call()
        } catch (e: KeyshiftException) {
            throw first.get() ?: e
        }
}

private class LambdaLegacy(val f: suspend (String) -> Boolean, val failure: HostFailure) : LegacyCheck {
    override suspend fun check(key: String): Boolean =
        try {
            f(key)
        } catch (e: Throwable) {
            throw failure.keep(e)
        }
}

private class LambdaProgress(val f: (MigrationProgress) -> Unit, val failure: HostFailure) : ProgressListener {
    override fun onProgress(progress: MigrationProgress) =
        try {
            f(progress)
        } catch (e: Throwable) {
            throw failure.keep(e)
        }
}

/** A [RecordSource] over an iterator of JSON objects (one record each). */
private class IteratorSource(val records: Iterator<String>, val failure: HostFailure) : RecordSource {
    override fun nextBatch(max: UInt): List<String> =
        try {
            val out = ArrayList<String>(max.toInt())
            while (out.size < max.toInt() && records.hasNext()) out.add(records.next())
            out
        } catch (e: Throwable) {
            throw failure.keep(e)
        }
}

/**
 * [Client.verifyWithFallback] with a lambda as the legacy check. Whatever the lambda throws is
 * rethrown from here unchanged.
 */
suspend fun Client.verifyWithFallback(
    key: String,
    options: VerifyOptions? = null,
    backfill: Backfill? = null,
    legacy: suspend (key: String) -> Boolean,
): Verification {
    val failure = HostFailure()
    return failure.rethrowing { verifyWithFallback(key, LambdaLegacy(legacy, failure), options, backfill) }
}

/**
 * Migrates records given as JSON objects (`{"key": "…"}` or `{"hash": "…"}` plus the optional
 * fields of a migrated key), pulled lazily a batch at a time. An exception thrown by the
 * sequence or by [onProgress] stops the run and is rethrown from here unchanged.
 */
suspend fun Client.migrateKeys(
    records: Sequence<String>,
    options: MigrateOptions,
    cancel: CancelToken? = null,
    onProgress: ((MigrationProgress) -> Unit)? = null,
): MigrationReport {
    val failure = HostFailure()
    return failure.rethrowing {
        migrateKeys(IteratorSource(records.iterator(), failure), options, onProgress?.let { LambdaProgress(it, failure) }, cancel)
    }
}

/** [Client.migrateKeysFile] with a lambda for progress (its exceptions are rethrown from here). */
suspend fun Client.migrateKeysFile(
    path: String,
    options: MigrateOptions,
    cancel: CancelToken? = null,
    onProgress: (MigrationProgress) -> Unit,
): MigrationReport {
    val failure = HostFailure()
    return failure.rethrowing { migrateKeysFile(path, options, LambdaProgress(onProgress, failure), cancel) }
}

/** What a migration [Flow] emits: progress snapshots, then the report. */
sealed interface MigrationUpdate {
    data class Progress(val progress: MigrationProgress) : MigrationUpdate

    data class Finished(val report: MigrationReport) : MigrationUpdate
}

/**
 * A cold [Flow] that runs the migration of a JSONL/CSV file when collected: progress snapshots
 * (a slow collector may miss some), then [MigrationUpdate.Finished]. Cancelling the collector
 * cancels the run (it stops sending and fails with `io`, field `cancel`); a failed run fails
 * the flow with its `KeyshiftException`.
 */
fun Client.migrateKeysFileFlow(path: String, options: MigrateOptions): Flow<MigrationUpdate> =
    migrationFlow { cancel, listener -> migrateKeysFile(path, options, listener, cancel) }

/** [migrateKeysFileFlow] for records given as JSON objects. */
fun Client.migrateKeysFlow(records: Sequence<String>, options: MigrateOptions): Flow<MigrationUpdate> =
    migrationFlow { cancel, listener ->
        val failure = HostFailure()
        failure.rethrowing { migrateKeys(IteratorSource(records.iterator(), failure), options, listener, cancel) }
    }

private fun migrationFlow(run: suspend (CancelToken, ProgressListener) -> MigrationReport): Flow<MigrationUpdate> =
    callbackFlow {
        val cancel = CancelToken()
        val listener = object : ProgressListener {
            override fun onProgress(progress: MigrationProgress) {
                trySend(MigrationUpdate.Progress(progress))
            }
        }
        launch {
            try {
                send(MigrationUpdate.Finished(run(cancel, listener)))
                close()
            } catch (e: Throwable) {
                close(e)
            }
        }
        awaitClose { cancel.cancel() }
    }
