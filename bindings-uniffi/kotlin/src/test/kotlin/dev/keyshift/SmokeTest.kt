package dev.keyshift

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

class SmokeTest {
    @Test
    fun `create and verify against a real server`() = runBlocking {
        val client = TestServer.shared.client()
        val api = client.createApi("smoke")
        val created = client.createApiKey(CreateKey(apiId = api.apiId, prefix = "sk_smoke"))
        val ok = client.verify(created.key)
        assertTrue(ok.valid)
        assertEquals(VerifyCode.VALID, ok.code)
        assertEquals(created.keyId, ok.keyId)
        val bad = client.verify(created.key + "x")
        assertFalse(bad.valid)
        assertEquals(VerifyCode.NOT_FOUND, bad.code)
    }
}
