// one node-postgres connection attempt; config as JSON in argv[2]; prints {"connected":..., "error":...}
const fs = require("fs");
const { Client } = require("pg");
const cfg = JSON.parse(process.argv[2]);
const ssl = cfg.ssl === false ? false : {};
if (ssl) {
  for (const k of ["ca", "cert", "key"]) if (cfg.ssl[k]) ssl[k] = fs.readFileSync(cfg.ssl[k]);
  // node takes one CRL per array element: a combined PEM file is split into its CRLs
  if (cfg.ssl.crl) ssl.crl = fs.readFileSync(cfg.ssl.crl, "utf8").split(/(?=-----BEGIN X509 CRL-----)/);
  if (cfg.ssl.passphrase !== undefined) ssl.passphrase = cfg.ssl.passphrase;
  ssl.rejectUnauthorized = cfg.ssl.rejectUnauthorized !== false;
}
const client = new Client({ host: cfg.host, port: cfg.port, user: cfg.user, database: cfg.database || "postgres",
  password: cfg.password, ssl, enableChannelBinding: !!cfg.channelBinding, connectionTimeoutMillis: 8000 });
const out = { connected: false, error: "", settled: false };
// measured: against a TLS 1.3 server that rejects the client certificate after the handshake, pg's connect()
// promise may never settle and node simply exits; say so instead of printing nothing
process.on("beforeExit", () => { if (!out.settled) { out.settled = true; console.log(JSON.stringify(out)); } });
(async () => {
  try { await client.connect(); out.connected = true;
        if (cfg.sql) { const r = await client.query(cfg.sql); out.rows = r.rows; } }
  catch (e) { out.error = e.message; }
  finally { try { await client.end(); } catch (e) {} }
  out.settled = true;
  console.log(JSON.stringify(out));
})();
