// A real OpenID Provider for the test suite: the npm package oidc-provider on 127.0.0.1.
//
// Environment: PORT (0 = any free port), OIDC_CLIENTS (JSON list of {client_id, client_secret,
// redirect_uris}), OIDC_ACCOUNTS (JSON {accountId: claims}). It prints "listening <issuer>" once
// ready. Sign-in uses the package's development interactions (any password; the login name is
// the account ID), with a consent step, as a person at a browser would see them.
//
// Two clients misbehave on purpose, so the relying party's checks can be seen to work: tokens
// issued to `gov-wrong-aud` name another audience, tokens issued to `gov-wrong-iss` another
// issuer. Both are re-signed with the provider's own key, so only those claims are wrong.
import { createServer } from 'node:http';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    ...c,
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: ['governance-test-cookie-key'] },
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...(accounts[id] || {}) };
      },
    };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const misbehaving = { 'gov-wrong-aud': { aud: 'someone-else' }, 'gov-wrong-iss': { iss: `${issuer}/impostor` } };
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body || !ctx.body.id_token) return;
  const clientId = ctx.oidc && ctx.oidc.client && ctx.oidc.client.clientId;
  const change = misbehaving[clientId];
  if (!change) return;
  const claims = { ...jose.decodeJwt(ctx.body.id_token), ...change };
  ctx.body.id_token = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
    .sign(privateKey);
});

server.on('request', provider.callback());
console.log(`listening ${issuer}`);
