package dev.keyshift

import java.io.ByteArrayOutputStream
import java.io.File
import java.io.PrintStream
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** The README's Kotlin example, compiled and run here; the README must show exactly this code. */
class ReadmeExampleTest {
    private fun example(baseUrl: String, rootKey: String) = runBlocking {
        // README:begin
        val client = Client(ClientConfig(baseUrl = baseUrl, rootKey = rootKey))
        val apiId = client.createApi("my-app").apiId
        val created = client.createApiKey(
            CreateKey(apiId = apiId, prefix = "sk_live", scopes = listOf(Scope("profile", read = true))),
        )
        println(created) // CreatedKey(keyId=key_…, key=sk_live_…Xy9Z): the plaintext is in created.key only

        val v = client.verify(created.key, VerifyOptions(permissions = "profile.read"))
        println("${v.valid} ${v.code}") // true VALID
        println(client.verify("sk_live_unknown").code) // NOT_FOUND: an outcome, not an exception

        try {
            client.getKey("key_missing")
        } catch (e: KeyshiftException.NotFound) {
            println("${e.code()} ${e.status} ${e.requestId}") // not_found 404 req_…
        }
        // README:end
    }

    @Test
    fun `the README example runs against a real server`() {
        val server = TestServer.shared
        val out = ByteArrayOutputStream()
        val saved = System.out
        System.setOut(PrintStream(out, true))
        try {
            example(server.baseUrl, server.rootKey)
        } finally {
            System.setOut(saved)
        }
        val lines = out.toString().lines()
        assertTrue(lines[0].startsWith("CreatedKey(keyId=key_") && lines[0].contains("key=sk_live_…"), lines[0])
        assertEquals("true VALID", lines[1])
        assertEquals("NOT_FOUND", lines[2])
        assertTrue(lines[3].startsWith("not_found 404 req_"), lines[3])
    }

    @Test
    fun `the README shows exactly this example`() {
        val source = File(TestServer.repo, "bindings-uniffi/kotlin/src/test/kotlin/dev/keyshift/ReadmeExampleTest.kt").readText()
        val code = source.substringAfter("// README:begin\n").substringBefore("        // README:end")
            .lines().joinToString("\n") { it.removePrefix("    ") }.trimEnd()
        val readme = File(TestServer.repo, "README.md").readText()
        assertTrue(readme.contains(code), "README.md's Kotlin example differs from ReadmeExampleTest:\n$code")
        assertFalse(code.isBlank())
    }
}
