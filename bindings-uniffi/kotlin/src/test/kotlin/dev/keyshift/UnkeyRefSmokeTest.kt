package dev.keyshift

import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * By-hand check against a key service named by KEYSHIFT_BASE_URL / KEYSHIFT_ROOT_KEY (Unkey's own
 * server from ../shared/tools/unkey-ref, whose seeded migration id is MIGRATION_ID, default
 * migration_a). Tagged "unkeyref": excluded from CI; run with
 * `scripts/test-kotlin.sh unkeyref` (see tests/unkey-ref/README.md).
 */
@Tag("unkeyref")
class UnkeyRefSmokeTest {
    private val baseUrl = System.getenv("KEYSHIFT_BASE_URL") ?: error("set KEYSHIFT_BASE_URL")
    private val rootKey = System.getenv("KEYSHIFT_ROOT_KEY") ?: error("set KEYSHIFT_ROOT_KEY")
    private val migrationId = System.getenv("MIGRATION_ID") ?: "migration_a"
    private val run = System.currentTimeMillis().toString(36)

    @Test
    fun `the client works against the key service`(): Unit = runBlocking {
        val client = Client(ClientConfig(baseUrl = baseUrl, rootKey = rootKey))
        val apiId = client.createApi("kt-smoke-$run").apiId
        val created = client.createApiKey(
            CreateKey(apiId = apiId, prefix = "sk", name = "smoke", scopes = listOf(Scope("orders$run", read = true))),
        )
        assertFalse(created.toString().contains(created.key), created.toString())
        val v = client.verify(created.key, VerifyOptions(permissions = "orders$run.read"))
        assertTrue(v.valid)
        assertEquals(VerifyCode.VALID, v.code)
        assertEquals(created.keyId, v.keyId)
        assertEquals(VerifyCode.INSUFFICIENT_PERMISSIONS, client.verify(created.key, VerifyOptions(permissions = "orders$run.write")).code)
        assertEquals(VerifyCode.NOT_FOUND, client.verify("sk_definitelyNotAKey1234567890").code)
        assertEquals("smoke", client.getKey(created.keyId).name)

        val legacy = (0 until 25).map { "legacy_${run}_${it}_abcdefghijklmnop" }
        val report = client.migrateKeys(
            legacy.asSequence().map { """{"key":"$it"}""" },
            MigrateOptions(apiId = apiId, migrationId = migrationId, batchSize = 10u),
        )
        assertEquals(25uL, report.migrated)
        assertEquals(VerifyCode.VALID, client.verify(legacy[3]).code)
        val fallback = client.verifyWithFallback("legacy_only_${run}_abcdefghijkl") { true }
        assertTrue(fallback.valid)

        val verdicts = (1..50).map { async { client.verify(created.key).valid } }.awaitAll()
        assertTrue(verdicts.all { it })
        val missing = assertThrows<KeyshiftException.NotFound> { runBlocking { client.getKey("key_doesNotExist123") } }
        assertEquals(404.toUShort(), missing.status)
        val bad = Client(ClientConfig(baseUrl = baseUrl, rootKey = "unkey_wrongRootKey1234567890"))
        assertThrows<KeyshiftException.Unauthorized> { runBlocking { bad.createApi("unauthorized-check") } }
        client.deleteKey(created.keyId, false)
        assertFalse(client.verify(created.key).valid)
        println("kotlin smoke passed against $baseUrl (api $apiId)")
    }
}
