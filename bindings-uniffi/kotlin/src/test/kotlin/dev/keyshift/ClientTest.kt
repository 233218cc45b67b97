package dev.keyshift

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** The client's calls against a real `keyshift serve` on a loopback port. */
class ClientTest {
    private val server = TestServer.shared
    private val client = server.client()
    private val apiId: String = runBlocking { client.createApi("kotlin-client").apiId }

    @Test
    fun `create with scopes and verify them`(): Unit = runBlocking {
        val created = client.createApiKey(
            CreateKey(
                apiId = apiId,
                prefix = "sk_kt",
                name = "scoped",
                scopes = listOf(Scope("profile", read = true, update = true)),
                permissions = listOf("billing.read"),
                externalId = "user_42",
                metaJson = """{"plan":"pro"}""",
            ),
        )
        assertTrue(created.key.startsWith("sk_kt_"))
        assertTrue(looksLikeKey(created.key))
        assertEquals(maskKey(created.key), created.masked)

        val v = client.verify(created.key)
        assertTrue(v.valid)
        assertEquals(VerifyCode.VALID, v.code)
        assertEquals(created.keyId, v.keyId)
        assertEquals("scoped", v.name)
        assertEquals("user_42", v.externalId)
        assertEquals("pro", org.json.JSONObject(v.metaJson).getString("plan"))
        assertEquals(setOf("profile.read", "profile.update", "billing.read"), v.permissions.toSet())
        assertEquals(setOf(Scope("profile", read = true, update = true), Scope("billing", read = true)), v.scopes.toSet())
        assertTrue(v.requestId!!.startsWith("req_"), v.requestId)

        val withScope = client.verify(created.key, VerifyOptions(scopes = listOf(Scope("profile", read = true))))
        assertEquals(VerifyCode.VALID, withScope.code)
        val missingScope = client.verify(created.key, VerifyOptions(scopes = listOf(Scope("profile", delete = true))))
        assertEquals(VerifyCode.INSUFFICIENT_PERMISSIONS, missingScope.code)
        assertFalse(missingScope.valid)
        val query = client.verify(created.key, VerifyOptions(permissions = "billing.read AND (profile.update OR admin)"))
        assertEquals(VerifyCode.VALID, query.code)
    }

    @Test
    fun `every failure code is an outcome, not an exception`(): Unit = runBlocking {
        val unknown = client.verify("sk_kt_doesnotexist1234567890")
        assertEquals(VerifyCode.NOT_FOUND, unknown.code)
        assertFalse(unknown.valid)

        val disabled = client.createApiKey(CreateKey(apiId = apiId, enabled = false))
        assertEquals(VerifyCode.DISABLED, client.verify(disabled.key).code)

        val noPerm = client.createApiKey(CreateKey(apiId = apiId, permissions = listOf("read")))
        assertEquals(VerifyCode.INSUFFICIENT_PERMISSIONS, client.verify(noPerm.key, VerifyOptions(permissions = "write")).code)

        val credits = client.createApiKey(CreateKey(apiId = apiId, credits = 1))
        val first = client.verify(credits.key)
        assertEquals(VerifyCode.VALID, first.code)
        assertEquals(0L, first.credits)
        assertEquals(VerifyCode.USAGE_EXCEEDED, client.verify(credits.key).code)

        val limited = client.createApiKey(
            CreateKey(apiId = apiId, ratelimits = listOf(Ratelimit("requests", limit = 1, duration = 60_000, autoApply = true))),
        )
        assertEquals(VerifyCode.VALID, client.verify(limited.key).code)
        val second = client.verify(limited.key)
        assertEquals(VerifyCode.RATE_LIMITED, second.code)
        assertTrue(second.ratelimits.any { it.name == "requests" && it.exceeded }, second.toString())

        val expiring = client.createApiKey(CreateKey(apiId = apiId, expires = System.currentTimeMillis() + 1_500))
        assertEquals(VerifyCode.VALID, client.verify(expiring.key).code)
        delay(2_000)
        assertEquals(VerifyCode.EXPIRED, client.verify(expiring.key).code)
        assertEquals("EXPIRED", verifyCodeName(VerifyCode.EXPIRED))
    }

    @Test
    fun `permissions and roles`(): Unit = runBlocking {
        val permId = client.createPermission("kt.docs.read", description = "read docs")
        assertTrue(client.listPermissions().any { it.id == permId && it.slug == "kt.docs.read" })
        assertEquals("read docs", client.getPermission("kt.docs.read").description)

        val roleId = client.createRole("kt-editor", listOf("kt.docs.read", "kt.docs.write"))
        val role = client.getRole("kt-editor")
        assertEquals(roleId, role.id)
        assertEquals(setOf("kt.docs.read", "kt.docs.write"), role.permissions.map { it.slug }.toSet())
        assertTrue(client.listRoles().any { it.id == roleId })

        val key = client.createApiKey(CreateKey(apiId = apiId))
        assertEquals(VerifyCode.INSUFFICIENT_PERMISSIONS, client.verify(key.key, VerifyOptions(permissions = "kt.docs.write")).code)
        assertEquals(listOf("kt-editor"), client.addRoles(key.keyId, listOf("kt-editor")).map { it.name })
        val viaRole = client.verify(key.key, VerifyOptions(permissions = "kt.docs.write"))
        assertEquals(VerifyCode.VALID, viaRole.code)
        assertEquals(listOf("kt-editor"), viaRole.roles)

        client.addPermissions(key.keyId, listOf("kt.extra"))
        assertTrue(client.verify(key.key).permissions.contains("kt.extra"))
        assertEquals(listOf("kt.only"), client.setPermissions(key.keyId, listOf("kt.only")).map { it.slug })
        client.removePermissions(key.keyId, listOf("kt.only"))
        client.removeRoles(key.keyId, listOf("kt-editor"))
        val after = client.verify(key.key)
        assertFalse(after.permissions.contains("kt.only"))
        assertTrue(after.roles.isEmpty())
        client.setRoles(key.keyId, listOf("kt-editor"))
        assertEquals(listOf("kt-editor"), client.verify(key.key).roles)

        client.deleteRole(roleId)
        assertThrows<KeyshiftException.NotFound> { runBlocking { client.getRole("kt-editor") } }
    }

    @Test
    fun `get update delete reroll`(): Unit = runBlocking {
        val created = client.createApiKey(CreateKey(apiId = apiId, prefix = "sk_upd", name = "before", metaJson = """{"a":1}"""))
        val info = client.getKey(created.keyId)
        assertEquals("before", info.name)
        assertEquals(keyStart(created.key), info.start)
        assertTrue(info.enabled)

        client.updateKey(
            UpdateKey(
                keyId = created.keyId,
                name = StringPatch.Set("after"),
                metaJson = StringPatch.Set("""{"b":2}"""),
                creditsRemaining = IntPatch.Set(5),
            ),
        )
        val updated = client.getKey(created.keyId)
        assertEquals("after", updated.name)
        assertEquals(2, org.json.JSONObject(updated.metaJson).getInt("b"))
        assertEquals(5L, updated.credits?.remaining)
        client.updateKey(UpdateKey(keyId = created.keyId, name = StringPatch.Clear, enabled = false))
        val cleared = client.getKey(created.keyId)
        assertNull(cleared.name)
        assertFalse(cleared.enabled)
        assertEquals(VerifyCode.DISABLED, client.verify(created.key).code)
        client.updateKey(UpdateKey(keyId = created.keyId, enabled = true))

        assertEquals(8L, client.updateCredits(created.keyId, CreditsOperation.INCREMENT, 3).remaining)

        val rerolled = client.rerollKey(created.keyId, 0)
        assertNotEquals(created.keyId, rerolled.keyId)
        assertEquals(VerifyCode.VALID, client.verify(rerolled.key).code)
        assertFalse(client.verify(created.key).valid)
        // The new key keeps the old one's settings: 8 credits, less the one verify above spent.
        assertEquals(7L, client.getKey(rerolled.keyId).credits?.remaining)

        client.deleteKey(rerolled.keyId)
        assertEquals(VerifyCode.NOT_FOUND, client.verify(rerolled.key).code)
        client.deleteKey(rerolled.keyId, permanent = true)
        val err = assertThrows<KeyshiftException.NotFound> { runBlocking { client.getKey(rerolled.keyId) } }
        assertEquals(404.toUShort(), err.status)
        assertEquals("not_found", err.code())
        assertTrue(err.requestId!!.startsWith("req_"), err.requestId)

        val listed = (0 until 3).map { client.createApiKey(CreateKey(apiId = apiId, name = "listed$it")).keyId }
        val page = client.listKeys(apiId, limit = 2u)
        assertEquals(2, page.keys.size)
        assertTrue(page.hasMore)
        val rest = client.listKeys(apiId, limit = 100u, cursor = page.cursor)
        assertTrue((page.keys + rest.keys).map { it.keyId }.containsAll(listed))
    }

    @Test
    fun `errors map to sealed subclasses with status and request id`(): Unit = runBlocking {
        val wrongRoot = server.client(rootKey = "unkey_notarootkey1234567890")
        val unauthorized = assertThrows<KeyshiftException.Unauthorized> { runBlocking { wrongRoot.createApi("nope") } }
        assertEquals(401.toUShort(), unauthorized.status)
        assertEquals("unauthorized", unauthorized.code())
        assertTrue(unauthorized.requestId!!.startsWith("req_"), unauthorized.requestId)
        assertFalse(unauthorized.toString().contains("notarootkey"), unauthorized.toString())

        val notFound = assertThrows<KeyshiftException.NotFound> { runBlocking { client.getApi("api_doesnotexist123") } }
        assertEquals(404.toUShort(), notFound.status)
        assertNotNull(notFound.requestId)

        val conflictName = "kt.conflict"
        client.createPermission(conflictName)
        val conflict = assertThrows<KeyshiftException.Conflict> { runBlocking { client.createPermission(conflictName) } }
        assertEquals(409.toUShort(), conflict.status)

        val local = assertThrows<KeyshiftException.InvalidInput> {
            runBlocking { client.createApiKey(CreateKey(apiId = apiId, byteLength = 8u)) }
        }
        assertEquals("byteLength", local.field)
        assertNull(local.status, "local validation never reached the server")
        assertNull(local.requestId)

        val badQuery = assertThrows<KeyshiftException.InvalidInput> {
            runBlocking { client.verify("sk_x_whatever", VerifyOptions(permissions = "a AND (b")) }
        }
        assertEquals("permissions", badQuery.field)

        val closedPort = Client(ClientConfig(baseUrl = "http://127.0.0.1:9", rootKey = "unkey_x", maxAttempts = 1u))
        val network = assertThrows<KeyshiftException> { runBlocking { closedPort.verify("sk_live_x") } }
        assertTrue(network is KeyshiftException.Network || network is KeyshiftException.Timeout, network.toString())
    }

    @Test
    fun `100 concurrent verifies in coroutines`(): Unit = runBlocking {
        val keys = (0 until 5).map { client.createApiKey(CreateKey(apiId = apiId, name = "c$it")) }
        val results = (0 until 100).map { i ->
            async(Dispatchers.Default) {
                val k = keys[i % keys.size]
                val key = if (i % 10 == 0) k.key + "bad" else k.key
                Triple(i, k, client.verify(key))
            }
        }.awaitAll()
        for ((i, k, v) in results) {
            if (i % 10 == 0) {
                assertEquals(VerifyCode.NOT_FOUND, v.code, "call $i")
            } else {
                assertEquals(VerifyCode.VALID, v.code, "call $i")
                assertEquals(k.keyId, v.keyId, "call $i")
                assertEquals("c${i % keys.size}", v.name, "call $i")
            }
        }
    }

    @Test
    fun `toString shows masked keys only`(): Unit = runBlocking {
        val created = client.createApiKey(CreateKey(apiId = apiId, prefix = "sk_mask"))
        val shown = created.toString()
        assertFalse(shown.contains(created.key), shown)
        assertTrue(shown.contains(created.masked), shown)
        assertTrue(shown.contains(created.keyId), shown)
        val config = ClientConfig(baseUrl = server.baseUrl, rootKey = server.rootKey)
        assertFalse(config.toString().contains(server.rootKey), config.toString())
        assertFalse(client.toString().contains(server.rootKey), client.toString())
        val v = client.verify(created.key)
        assertFalse(v.toString().contains(created.key), v.toString())
        assertFalse(client.getKey(created.keyId).toString().contains(created.key))
    }
}
