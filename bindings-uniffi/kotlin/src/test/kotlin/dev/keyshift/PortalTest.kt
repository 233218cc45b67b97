package dev.keyshift

import java.net.URI
import java.net.URLDecoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * `createPortalSession` (issue 16) against a real `keyshift serve`: the minted URL points at that
 * server, `toString()` hides its one-time code, and the code opens the session exactly once
 * through `portal.exchangeCode` over HTTP.
 */
class PortalTest {
    private val server = TestServer.shared
    private val client = server.client()
    private val http = HttpClient.newHttpClient()

    private fun post(op: String, body: JSONObject, token: String? = null): Pair<Int, JSONObject> {
        val req = HttpRequest.newBuilder(URI.create("${server.baseUrl}/v2/$op"))
            .header("content-type", "application/json")
            .apply { if (token != null) header("authorization", "Bearer $token") }
            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
            .build()
        val res = http.send(req, HttpResponse.BodyHandlers.ofString())
        return res.statusCode() to JSONObject(res.body())
    }

    @Test
    fun `minted url opens the session once`(): Unit = runBlocking {
        val apiId = client.createApi("kotlin-portal").apiId
        val session = client.createPortalSession(apiId, "user_kt", listOf("keys:read", "keys:reroll"))
        assertTrue(session.id.startsWith("ps_"), session.id)
        assertTrue(session.url.startsWith("${server.baseUrl}/portal?code=pst_"))
        val code = URLDecoder.decode(session.url.substringAfter("code=").substringBefore("&"), "UTF-8")
        assertFalse(session.toString().contains(code), session.toString())
        assertTrue(session.toString().contains(session.id))

        val (status, body) = post("portal.exchangeCode", JSONObject().put("code", code))
        assertEquals(200, status, body.toString())
        val token = body.getJSONObject("data").getString("accessToken")
        assertTrue(token.startsWith("pat_"))
        val (gs, got) = post("portal.getSession", JSONObject(), token)
        assertEquals(200, gs, got.toString())
        val data = got.getJSONObject("data")
        assertEquals(session.id, data.getString("sessionId"))
        assertEquals("user_kt", data.getString("externalId"))
        assertEquals(listOf("keys:read", "keys:reroll"), data.getJSONArray("scopes").map { it as String }.sorted())
        assertEquals(apiId, data.getJSONObject("portal").getString("apiId"))

        val (again, refused) = post("portal.exchangeCode", JSONObject().put("code", code))
        assertEquals(401, again)
        assertEquals("Unauthorized", refused.getJSONObject("error").getString("title"))

        assertThrows<KeyshiftException.NotFound> {
            runBlocking { client.createPortalSession("api_doesnotexist", "user_kt", listOf("keys:read")) }
        }
    }
}
