package dev.keyshift

import java.nio.file.Files
import java.util.Collections
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Migration and host callbacks (progress, record source, legacy check) against a real server. */
class MigrationTest {
    private val server = TestServer.shared
    private val client = server.client()

    private fun newApi(name: String) = runBlocking { client.createApi(name).apiId }

    private fun keys(n: Int, prefix: String) = (0 until n).map { generateKey(prefix, 16u) }

    @Test
    fun `10k keys from a JSONL file with a progress callback`(): Unit = runBlocking {
        val apiId = newApi("kt-migrate-file")
        val keys = keys(10_000, "sk_mig")
        val file = Files.createTempFile(server.dir, "keys", ".jsonl")
        Files.write(file, keys.mapIndexed { i, k -> """{"key":"$k","name":"m$i","permissions":["legacy.read"]}""" })
        val snapshots = Collections.synchronizedList(mutableListOf<MigrationProgress>())
        val report = client.migrateKeysFile(file.toString(), MigrateOptions(apiId = apiId, migrationId = "kt-file-10k")) { p ->
            snapshots.add(p)
        }
        assertEquals(10_000uL, report.total)
        assertEquals(10_000uL, report.migrated)
        assertEquals(0uL, report.failed + report.invalid)
        // No batchSize given: core grows batches past 100 while the server answers quickly.
        assertTrue(report.batches < 100uL, report.toString())
        assertTrue(report.toString().contains("10000 migrated"), report.toString())
        assertTrue(snapshots.isNotEmpty())
        val last = snapshots.last()
        assertTrue(last.finished)
        assertEquals(10_000uL, last.migrated)
        assertEquals(last.bytesTotal, Files.size(file).toULong())
        assertTrue(snapshots.zipWithNext().all { (a, b) -> a.handled <= b.handled }, "progress only grows")

        for (i in listOf(0, 4_999, 9_999)) {
            val v = client.verify(keys[i], VerifyOptions(permissions = "legacy.read"))
            assertEquals(VerifyCode.VALID, v.code, "key $i")
            assertEquals("m$i", v.name)
        }
    }

    @Test
    fun `records from a sequence and the progress flow`(): Unit = runBlocking {
        val apiId = newApi("kt-migrate-seq")
        val keys = keys(1_000, "sk_seq")
        val report = client.migrateKeys(keys.asSequence().map { """{"key":"$it"}""" }, MigrateOptions(apiId = apiId, migrationId = "kt-seq", batchSize = 50u))
        assertEquals(1_000uL, report.migrated)
        assertEquals(VerifyCode.VALID, client.verify(keys[500]).code)

        val hashed = keys(300, "sk_flow")
        val records = hashed.asSequence().map { """{"hash":"${hashKey(it, HashVariant.SHA256_HEX).value}","variant":"sha256_hex"}""" }
        val updates = client.migrateKeysFlow(records, MigrateOptions(apiId = apiId, migrationId = "kt-flow")).toList()
        val finished = updates.last() as MigrationUpdate.Finished
        assertEquals(300uL, finished.report.migrated)
        assertTrue(updates.dropLast(1).all { it is MigrationUpdate.Progress })
        assertEquals(VerifyCode.VALID, client.verify(hashed[7]).code)
    }

    @Test
    fun `invalid records are reported, not thrown`(): Unit = runBlocking {
        val apiId = newApi("kt-migrate-bad")
        val good = keys(3, "sk_ok")
        val records = sequenceOf("""{"key":"${good[0]}"}""", """{"key":"   "}""", """{"key":"${good[1]}","expires":"soon"}""", """{"key":"${good[2]}"}""")
        val report = client.migrateKeys(records, MigrateOptions(apiId = apiId, migrationId = "kt-bad"))
        assertEquals(2uL, report.migrated)
        assertEquals(2uL, report.invalid)
        assertEquals(listOf(2uL, 3uL), report.errors.map { it.line })
        assertTrue(report.errors.all { it.code == "invalid_input" })
        val dry = client.migrateKeys(records, MigrateOptions(apiId = apiId, migrationId = "kt-bad-dry", dryRun = true))
        assertTrue(dry.dryRun)
        assertEquals(2uL, dry.valid)
    }

    @Test
    fun `a throwing record source comes back out and nothing after it is sent`(): Unit = runBlocking {
        val apiId = newApi("kt-migrate-throw")
        val keys = keys(600, "sk_thr")
        val boom = IllegalStateException("source broke at 400")
        val records = keys.asSequence().mapIndexed { i, k -> if (i == 400) throw boom else """{"key":"$k"}""" }
        val thrown = assertThrows<IllegalStateException> {
            runBlocking { client.migrateKeys(records, MigrateOptions(apiId = apiId, migrationId = "kt-throw")) }
        }
        assertSame(boom, thrown)
        assertEquals(VerifyCode.NOT_FOUND, client.verify(keys[599]).code, "nothing after the failure was sent")
    }

    @Test
    fun `a throwing progress callback comes back out and cancel stops the run`(): Unit = runBlocking {
        val apiId = newApi("kt-migrate-progress")
        val keys = keys(2_000, "sk_prg").map { """{"key":"$it"}""" }
        val boom = RuntimeException("progress listener failed")
        val thrown = assertThrows<RuntimeException> {
            runBlocking {
                client.migrateKeys(keys.asSequence(), MigrateOptions(apiId = apiId, migrationId = "kt-prog", batchSize = 10u, concurrency = 1u)) {
                    throw boom
                }
            }
        }
        assertSame(boom, thrown)

        // Thrown on the final snapshot, after every batch went through: still comes back out.
        val late = IllegalStateException("thrown on the last snapshot")
        val thrownLate = assertThrows<IllegalStateException> {
            runBlocking {
                client.migrateKeys(keys.take(50).asSequence(), MigrateOptions(apiId = apiId, migrationId = "kt-late")) { p ->
                    if (p.finished) throw late
                }
            }
        }
        assertSame(late, thrownLate)

        val cancel = CancelToken()
        val cancelled = assertThrows<KeyshiftException.Io> {
            runBlocking {
                client.migrateKeys(keys.asSequence(), MigrateOptions(apiId = apiId, migrationId = "kt-cancel", batchSize = 10u, concurrency = 1u), cancel) {
                    cancel.cancel()
                }
            }
        }
        assertEquals("cancel", cancelled.field)
        assertTrue(cancel.isCancelled())
    }

    @Test
    fun `a foreign trait that throws a KeyshiftException comes back typed and other exceptions keep their text`(): Unit = runBlocking {
        val apiId = newApi("kt-foreign")
        val typed = KeyshiftException.Forbidden(ErrorDetail("forbidden", "host says no", 403u, null, "source", null))
        val source = object : RecordSource {
            override fun nextBatch(max: UInt): List<String> = throw typed
        }
        val got = assertThrows<KeyshiftException.Forbidden> {
            runBlocking { client.migrateKeys(source, MigrateOptions(apiId = apiId, migrationId = "kt-typed"), null, null) }
        }
        assertEquals("host says no", got.detail().message)
        assertEquals(403.toUShort(), got.status)

        val legacy = object : LegacyCheck {
            override suspend fun check(key: String): Boolean = throw IllegalArgumentException("legacy db down")
        }
        val io = assertThrows<KeyshiftException.Io> {
            runBlocking { client.verifyWithFallback("sk_unknown_1234567890abcdef", legacy, null, null) }
        }
        assertTrue(io.detail().message.contains("IllegalArgumentException: legacy db down"), io.detail().message)
    }

    @Test
    fun `verify with fallback asks the legacy check only for unknown keys`(): Unit = runBlocking {
        val apiId = newApi("kt-fallback")
        val known = client.createApiKey(CreateKey(apiId = apiId))
        val asked = Collections.synchronizedList(mutableListOf<String>())
        val legacyKey = generateKey("sk_legacy", 16u)
        val check: suspend (String) -> Boolean = { k -> asked.add(k); k == legacyKey }

        assertEquals(VerificationSource.KEY_SERVICE, client.verifyWithFallback(known.key, legacy = check).source)
        assertTrue(asked.isEmpty())
        val accepted = client.verifyWithFallback(
            legacyKey,
            backfill = Backfill(apiId = apiId, migrationId = "kt-backfill", permissions = listOf("from.legacy")),
            legacy = check,
        )
        assertTrue(accepted.valid)
        assertEquals(VerificationSource.LEGACY, accepted.source)
        assertEquals(listOf(legacyKey), asked.toList())
        // Backfilled: the key service knows it now.
        val direct = client.verify(legacyKey)
        assertEquals(VerifyCode.VALID, direct.code)
        assertTrue(direct.permissions.contains("from.legacy"))

        val rejected = client.verifyWithFallback("sk_nobody_1234567890abcdef", legacy = check)
        assertFalse(rejected.valid)
        assertEquals(VerifyCode.NOT_FOUND, rejected.code)

        val boom = IllegalStateException("boom")
        val thrown = assertThrows<IllegalStateException> {
            runBlocking { client.verifyWithFallback("sk_nobody_1234567890abcdef") { throw boom } }
        }
        assertSame(boom, thrown)
    }

    @Test
    fun `Client local runs the embedded engine`(): Unit = runBlocking {
        val db = Files.createTempDirectory(server.dir, "local").resolve("local.db").toString()
        val local = Client.local(db)
        assertTrue(local.toString().isNotEmpty())
        val apiId = local.createApi("embedded").apiId
        val created = local.createApiKey(CreateKey(apiId = apiId, permissions = listOf("local.read")))
        val v = local.verify(created.key, VerifyOptions(permissions = "local.read"))
        assertEquals(VerifyCode.VALID, v.code)
        assertEquals(created.keyId, v.keyId)
        assertEquals(VerifyCode.NOT_FOUND, local.verify(created.key + "x").code)
        // The same file from a second client sees the same key.
        assertEquals(VerifyCode.VALID, Client.local(db).verify(created.key).code)
        // And the HTTP server's database does not.
        assertEquals(VerifyCode.NOT_FOUND, client.verify(created.key).code)
    }
}
