package dev.keyshift

import java.io.File
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.assertThrows

/** Every case of every file in `tests/vectors` through the exported local functions. */
class VectorsTest {
    private fun cases(file: String): List<JSONObject> {
        val json = JSONObject(File(TestServer.repo, "tests/vectors/$file").readText())
        val cases = json.getJSONArray("cases")
        return (0 until cases.length()).map { cases.getJSONObject(it) }
    }

    private fun strings(a: JSONArray): List<String> = (0 until a.length()).map { a.getString(it) }

    private fun scope(o: JSONObject) = Scope(
        representation = o.getString("representation"),
        read = o.optBoolean("read"),
        create = o.optBoolean("create"),
        update = o.optBoolean("update"),
        delete = o.optBoolean("delete"),
    )

    /** A case either expects a value, or an `invalid_input` naming `field`. */
    private fun expectError(case: JSONObject, call: () -> Unit) {
        val err = assertThrows<KeyshiftException.InvalidInput>(case.getString("name")) { call() }
        assertEquals(case.getString("error"), err.code(), case.getString("name"))
        if (case.has("field")) assertEquals(case.getString("field"), err.field, case.getString("name"))
        if (case.has("position")) {
            assertTrue(err.detail().message.contains("at position ${case.getInt("position")}"), "${case.getString("name")}: ${err.detail().message}")
        }
    }

    private fun test(file: String, run: (JSONObject) -> Unit): List<DynamicTest> =
        cases(file).also { assertTrue(it.isNotEmpty(), file) }
            .map { case -> DynamicTest.dynamicTest("$file ${case.getString("name")}") { run(case) } }

    private fun variant(name: String) = parseHashVariant(name)

    @TestFactory
    fun hashing() = test("hashing.json") { c ->
        val name = c.getString("name")
        when (c.getString("kind")) {
            "hash" -> if (c.has("error")) {
                expectError(c) { hashKey(c.getString("key"), variant(c.getString("variant"))) }
            } else {
                val h = hashKey(c.getString("key"), variant(c.getString("variant")))
                assertEquals(c.getString("expected"), h.value, name)
                assertEquals(c.getString("variant"), hashVariantName(h.variant), name)
                assertEquals(listOf(h), hashKeys(listOf(c.getString("key")), h.variant), name)
                assertTrue(keyHashMatches(h, c.getString("key")), name)
            }
            "parse" -> if (c.has("error")) {
                expectError(c) { parseKeyHash(c.getString("value"), variant(c.getString("variant"))) }
            } else {
                assertEquals(c.getString("expected"), parseKeyHash(c.getString("value"), variant(c.getString("variant"))).value, name)
            }
            else -> error("unknown kind in $name")
        }
    }

    @TestFactory
    fun bcrypt() = test("bcrypt.json") { c ->
        if (c.has("error")) {
            expectError(c) { verifyBcrypt(c.getString("key"), c.getString("hash")) }
        } else {
            assertEquals(c.getBoolean("expected"), verifyBcrypt(c.getString("key"), c.getString("hash")), c.getString("name"))
        }
    }

    @TestFactory
    fun keyformat() = test("keyformat.json") { c ->
        val name = c.getString("name")
        when (c.getString("kind")) {
            "checksum" -> assertEquals(c.getString("expected"), keyChecksum(c.getString("body")), name)
            "looks_like_key" -> assertEquals(c.getBoolean("expected"), looksLikeKey(c.getString("key")), name)
            "mask" -> assertEquals(c.getString("expected"), maskKey(c.getString("key")), name)
            "key_start" -> assertEquals(c.getString("expected"), keyStart(c.getString("key")), name)
            "key_prefix" -> assertEquals(if (c.isNull("expected")) null else c.getString("expected"), keyPrefix(c.getString("key")), name)
            "generate" -> {
                val prefix = if (c.isNull("prefix")) null else c.getString("prefix")
                val bytes = c.getInt("byte_length").toUInt()
                if (c.has("error")) {
                    expectError(c) { generateKey(prefix, bytes) }
                } else {
                    val key = generateKey(prefix, bytes)
                    assertTrue(looksLikeKey(key), name)
                    assertEquals(prefix, keyPrefix(key), name)
                }
            }
            else -> error("unknown kind in $name")
        }
    }

    @TestFactory
    fun scopes() = test("scopes.json") { c ->
        val name = c.getString("name")
        when (c.getString("kind")) {
            "expand" -> {
                val scopes = c.getJSONArray("scopes").let { a -> (0 until a.length()).map { scope(a.getJSONObject(it)) } }
                assertEquals(strings(c.getJSONArray("expected")), scopesToPermissions(scopes), name)
                if (scopes.size == 1) assertEquals(scopesToPermissions(scopes), scopePermissions(scopes[0]), name)
            }
            "fold" -> {
                val expected = c.getJSONArray("expected").let { a -> (0 until a.length()).map { scope(a.getJSONObject(it)) } }
                assertEquals(expected, permissionsToScopes(strings(c.getJSONArray("permissions"))), name)
            }
            "parse_cli" -> if (c.has("error")) {
                expectError(c) { parseScope(c.getString("input")) }
            } else {
                assertEquals(scope(c.getJSONObject("expected")), parseScope(c.getString("input")), name)
            }
            else -> error("unknown kind in $name")
        }
    }

    @TestFactory
    fun permissionQueries() = test("permission_queries.json") { c ->
        if (c.has("error")) {
            expectError(c) { parsePermissionQuery(c.getString("query")) }
        } else {
            val query = parsePermissionQuery(c.getString("query"))
            assertEquals(c.getBoolean("expected"), query.evaluate(strings(c.getJSONArray("granted"))), c.getString("name"))
        }
    }
}
