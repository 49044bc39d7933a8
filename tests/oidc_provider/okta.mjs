// An Okta-like custom authorization server for the credentials tests: the npm package
// oidc-provider on 127.0.0.1, mounted at /oauth2/<server id> as Okta's are, with what seed 001
// sets up in Okta: custom scopes (session:role:...), client credentials, authorization code with
// PKCE, refresh tokens that rotate (reusing a rotated one is refused and revokes the grant, as
// Okta treats it as theft), and revocation.
//
// Environment: PORT (0 = any free port), SERVER_ID, OKTA_CLIENTS (JSON list of {client_id,
// client_secret, redirect_uris, grant_types?, scope?}: `scope` is what the server's access
// policy lets that client ask for), ACCESS_TTL (seconds). It prints "listening <issuer>" once
// ready, and "refresh <grantId>" for every refresh grant it answers (the tests count them).
import { createServer } from 'node:http';
import * as jose from 'jose';
import Provider from 'oidc-provider';

const serverId = process.env.SERVER_ID || 'aus-test';
const clients = JSON.parse(process.env.OKTA_CLIENTS || '[]');
const accessTtl = Number(process.env.ACCESS_TTL || 300);
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'okta-test-1', alg: 'RS256', use: 'sig' };

const server = createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const prefix = `/oauth2/${serverId}`;
const issuer = `${origin}${prefix}`;
const customScopes = ['session:role:PUBLIC', 'session:role:ANALYST', 'session:role-any', 'session:role:ADMIN'];

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: ['governance-okta-test-cookie-key'] },
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'profile', 'email', ...customScopes],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: { enabled: false },
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: accessTtl,
    ClientCredentials: accessTtl,
    RefreshToken: 86400,
    Grant: 86400,
    Session: 86400,
    Interaction: 600,
  },
  async issueRefreshToken(ctx, client, code) {
    return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
  },
  async loadExistingGrant(ctx) {
    // Consent is remembered per client and account (Okta's "first time only").
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    return undefined;
  },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id, email: `${id}@example.com` }; } };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.success', (ctx) => {
  if (ctx.oidc.params.grant_type === 'refresh_token') {
    console.log(`refresh ${ctx.oidc.entities.RefreshToken?.grantId || ''}`);
  }
});

server.on('request', (req, res) => {
  if (!req.url.startsWith(prefix)) {
    res.statusCode = 404;
    res.end('not found');
    return;
  }
  req.originalUrl = req.url;
  req.url = req.url.slice(prefix.length) || '/';
  provider.callback()(req, res);
});
console.log(`listening ${issuer}`);
