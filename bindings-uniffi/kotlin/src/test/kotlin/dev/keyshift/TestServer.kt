package dev.keyshift

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import org.json.JSONObject

/**
 * A real `keyshift serve` on a free loopback port (`--listen 127.0.0.1:0`) with a temporary
 * SQLite database, started once per test JVM and stopped with SIGTERM at exit.
 */
class TestServer private constructor(
    private val process: Process,
    val dir: Path,
    val baseUrl: String,
    val rootKey: String,
) {
    fun client(rootKey: String = this.rootKey, maxAttempts: UInt? = null): Client =
        Client(ClientConfig(baseUrl = baseUrl, rootKey = rootKey, maxAttempts = maxAttempts))

    fun stop() {
        process.destroy() // SIGTERM
        if (!process.waitFor(20, TimeUnit.SECONDS)) process.destroyForcibly()
        dir.toFile().deleteRecursively()
    }

    companion object {
        val repo: File = File(System.getProperty("keyshift.repo") ?: "../..").canonicalFile

        fun keyshiftBin(): String {
            val path = System.getProperty("keyshift.bin") ?: System.getenv("KEYSHIFT_BIN")
                ?: File(repo, "target/debug/keyshift").path
            check(File(path).canExecute()) {
                "keyshift binary not found at $path: run `cargo build -p keyshift-cli` or set KEYSHIFT_BIN"
            }
            return path
        }

        fun start(): TestServer {
            val dir = Files.createTempDirectory("keyshift-kotlin")
            val pb = ProcessBuilder(
                keyshiftBin(), "serve", "--db", dir.resolve("keyshift.db").toString(),
                "--listen", "127.0.0.1:0", "--json",
            ).redirectError(dir.resolve("server.log").toFile())
            pb.environment().remove("KEYSHIFT_ROOT_KEY")
            val process = pb.start()
            process.outputStream.close()
            val line = process.inputStream.bufferedReader().readLine()
                ?: error("keyshift serve did not announce itself: ${Files.readString(dir.resolve("server.log"))}")
            val announce = JSONObject(line)
            val server = TestServer(process, dir, announce.getString("baseUrl"), announce.getString("rootKey"))
            check(server.baseUrl.startsWith("http://127.0.0.1:")) { server.baseUrl }
            return server
        }

        /** One server for the whole test JVM. */
        val shared: TestServer by lazy {
            start().also { s -> Runtime.getRuntime().addShutdownHook(Thread { s.stop() }) }
        }
    }
}
