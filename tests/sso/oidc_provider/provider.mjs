// A third-party OpenID Connect provider for Callbridge's single sign-on tests: panva's `oidc-provider`
// with its built-in login and consent pages (devInteractions), on loopback, port chosen by the OS.
//
//   node provider.mjs <config.json>
//
// config.json: {"host": "127.0.0.1", "clients": [{client_id, client_secret, redirect_uris}],
//               "accounts": "<path of accounts.json>"}
// accounts.json maps a login name to its claims ({"email": ..., "email_verified": ..., "name": ...});
// it is read at every sign-in, so a test can change an account's e-mail between sign-ins.
// Prints "READY <issuer>" once listening.

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const host = config.host || "127.0.0.1";

/** @param {string} id */
function accountClaims(id) {
  const accounts = JSON.parse(readFileSync(config.accounts, "utf8"));
  return accounts[id] || {};
}

const server = createServer();
server.listen(0, host, () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const issuer = `http://${host}:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients.map((/** @type {any} */ client) => ({
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
      ...client,
    })),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    cookies: { keys: ["callbridge-test-only-cookie-key"] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...accountClaims(id) };
        },
      };
    },
  });
  provider.on("server_error", (_ctx, error) => console.error("server_error", error));
  server.on("request", provider.callback());
  console.log(`READY ${issuer}`);
});
