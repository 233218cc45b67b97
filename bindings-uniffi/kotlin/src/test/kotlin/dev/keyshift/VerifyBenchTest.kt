package dev.keyshift

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test

/**
 * Verify calls/s of the Kotlin client against a local `keyshift serve`, next to a raw JVM
 * keep-alive HTTP loop on the same server (the floor). Excluded from CI (tag "bench"); run with
 * `scripts/test-kotlin.sh bench`, which uses release builds. Writes target/bench-verify.txt.
 */
@Tag("bench")
class VerifyBenchTest {
    private val calls = (System.getProperty("bench.calls") ?: "10000").toInt()

    @Test
    fun `verify calls per second`(): Unit = runBlocking {
        val server = TestServer.shared
        val client = server.client()
        val apiId = client.createApi("bench").apiId
        val key = client.createApiKey(CreateKey(apiId = apiId, permissions = listOf("profile.read"))).key
        val options = VerifyOptions(permissions = "profile.read")

        val http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
        val body = """{"key":"$key","permissions":"profile.read"}"""
        val request = HttpRequest.newBuilder(URI.create("${server.baseUrl}/v2/keys.verifyKey"))
            .header("authorization", "Bearer ${server.rootKey}")
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build()
        fun raw() {
            val r = http.send(request, HttpResponse.BodyHandlers.ofString())
            check(r.statusCode() == 200 && r.body().contains("\"VALID\""))
        }
        repeat(1_000) { raw(); assertEquals(VerifyCode.VALID, client.verify(key, options).code) }

        // Alternate the loops in rounds so drift on a shared machine hits both alike.
        val rounds = 4
        val per = calls / rounds
        var rawNs = 0L
        var ktNs = 0L
        var concNs = 0L
        repeat(rounds) {
            var t = System.nanoTime()
            repeat(per) { raw() }
            rawNs += System.nanoTime() - t

            t = System.nanoTime()
            repeat(per) { check(client.verify(key, options).valid) }
            ktNs += System.nanoTime() - t

            t = System.nanoTime()
            (0 until 32).map {
                async(Dispatchers.Default) { repeat(per / 32) { check(client.verify(key, options).valid) } }
            }.awaitAll()
            concNs += System.nanoTime() - t
        }
        val n = per * rounds
        val concN = (per / 32) * 32 * rounds
        fun rate(count: Int, ns: Long) = count / (ns / 1e9)
        val report = buildString {
            appendLine("verify round trips against keyshift serve (${server.baseUrl}), $n calls each")
            appendLine("  JVM raw HTTP/1.1 keep-alive loop (floor): %8.0f calls/s  %7.1f µs/call".format(rate(n, rawNs), rawNs / 1e3 / n))
            appendLine("  Kotlin Client.verify, sequential:         %8.0f calls/s  %7.1f µs/call".format(rate(n, ktNs), ktNs / 1e3 / n))
            appendLine("  Kotlin Client.verify, 32 coroutines:      %8.0f calls/s".format(rate(concN, concNs)))
            appendLine("  ratio Kotlin/raw time (sequential): %.3f".format(ktNs.toDouble() / rawNs))
        }
        print(report)
        File("target/bench-verify.txt").writeText(report)
    }
}
