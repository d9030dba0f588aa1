#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/seeds/<target>/ from the public vectors
(core/vectors/jwt_hmac_vectors.json) and hand-picked hostile shapes. Rerun after changing it:
    python3 fuzz/make_seeds.py
libFuzzer grows its own corpus (fuzz/corpus/, git-ignored) from these."""
import base64, hashlib, hmac, json, os, shutil, struct

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = json.load(open(os.path.join(HERE, "..", "core", "vectors", "jwt_hmac_vectors.json")))
ARGON2 = json.load(open(os.path.join(HERE, "..", "core", "vectors", "argon2_vectors.json")))
FUZZ_KEY = b"fuzz-key-0123456789abcdef-0123456789abcdef-0123456789abcdef-0123"  # as in the targets
HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(header: str, payload: str, key: bytes, alg: str = "HS256") -> str:
    signing_input = f"{b64(header.encode())}.{b64(payload.encode())}"
    mac = hmac.new(key, signing_input.encode(), HASHES[alg]).digest()
    return f"{signing_input}.{b64(mac)}"


def write(target: str, seeds):
    d = os.path.join(HERE, "seeds", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, f"{i:03d}"), "wb") as f:
            f.write(s if isinstance(s, bytes) else s.encode())


a1 = VECTORS["rfc7515_a1"]
a1_key = unb64(a1["key_base64url"])
pgjwt = sign('{"alg":"HS256","typ":"JWT"}', '{"sub":"1234567890","name":"John Doe","admin":true}', b"secret")
std = '{"alg":"%s","typ":"JWT"}'
claims = ['{"role":"web_user","sub":"alice","exp":1700000000,"iat":1699996400}',
          '{"role":"anon"}', '{"exp":"soon","nbf":true}', '{"exp":1e300,"nbf":-1}',
          '{"aud":["x","api"],"iss":"auth","exp":99999999999}',
          '{"tid":"0b5ea6b2-3c4d-4e5f-8a9b-0c1d2e3f4a5b","role":"svc"}', '{}']

jwt_decode = [a1["token"], pgjwt, "", "a.b", "a.b.c.d", "..", "e30.e30.", "W10.e30.", "e30.MQ.",
              f"{b64(b'{}')}.{b64(bytes([0xff, 0xfe]))}.", "e30.e30.a=", "e30.e30.AA==",
              a1["token"].replace(".", "..", 1), a1["token"][:-1], a1["token"] + "A"]
for alg in HASHES:
    for c in claims:
        jwt_decode.append(sign(std % alg, c, FUZZ_KEY, alg))
for header in ['{"alg":"none"}', '{"alg":"None"}', '{"alg":"NONE"}', '{"alg":"hs256"}',
               '{"alg":1}', '{"typ":"JWT"}', '{"alg":"HS256","alg":"none"}']:
    admin = b64(b'{"role":"admin"}')
    jwt_decode.append(f"{b64(header.encode())}.{admin}.")
    jwt_decode.append(sign(header, '{"role":"admin"}', FUZZ_KEY))
# Strictness: repeated member names (top level, escaped, nested), crit, NUL in claims.
for header, payload in [('{"alg":"HS256","typ":"JWT","alg":"none"}', '{"role":"anon"}'),
                        ('{"alg":"HS256","\\u0061lg":"HS256"}', '{"role":"anon"}'),
                        ('{"alg":"HS256"}', '{"exp":1,"role":"anon","exp":99999999999}'),
                        ('{"alg":"HS256"}', '{"app":{"role":"a","role":"b"}}'),
                        ('{"alg":"HS256"}', '{"l":[{"x":1},{"x":2}],"a":{"a":1}}'),
                        ('{"alg":"HS256","crit":["exp"],"exp":1363284000}', '{"role":"admin"}'),
                        ('{"alg":"HS256","crit":[]}', '{"crit":["exp"]}'),
                        ('{"alg":"HS256"}', '{"role":"admin\\u0000","\\u0000":{"a":["\\u0000"]}}'),
                        ('{"alg":"HS256"}', '{"path":"\\\\u0000"}')]:
    jwt_decode.append(sign(header, payload, FUZZ_KEY))
write("jwt_decode", jwt_decode)

# jwt_roundtrip: [alg byte][key length][key][payload]
rt = []
for i, alg in enumerate(HASHES):
    for c in claims + ['[]', '1', '"x"', 'null', '{"a":{"b":[1,2,{"c":"\\u0000"}]}}', '{ "spaced" : 1 }',
                       '{"a":1,"a":2}', '{"a":[{"b":1,"b":1}]}', '{"a":{"a":{}},"b":{"a":{}}}']:
        rt.append(bytes([i, len(FUZZ_KEY)]) + FUZZ_KEY + c.encode())
rt.append(bytes([0, len(a1_key)]) + a1_key + json.dumps(a1["payload"]).encode())
rt.append(bytes([0, 6]) + b"secret" + b'{"sub":"1234567890","name":"John Doe","admin":true}')
rt.append(bytes([2, 0]) + b"{}")
write("jwt_roundtrip", rt)

# claims: [now µs, i64 LE][leeway s, u16 LE][payload JSON]
cl = []
for now, leeway in [(1_700_000_000_000_000, 30), (0, 0), (-1, 3600), (2**62, 1)]:
    for c in claims + ['{"aud_under_test":"api","aud":"api","iss_under_test":"auth","iss":"auth"}',
                       '{"exp":1700000000.5}', '{"exp":"1700000000"}', '{"iat":9e15}',
                       '{"exp":1,"sub":"\\u0000"}', '{"a":[{"\\u0000":1}]}', '{"p":"\\\\u0000"}',
                       # access-token hook answers: kept, changed, dropped, added, not an object
                       '{"role":"web","sub":"a","exp":1,"hook_answer":{"role":"web","sub":"a","exp":1,"t":2}}',
                       '{"role":"web","sub":"a","exp":1,"hook_answer":{"role":"admin","sub":"a","exp":1}}',
                       '{"role":"web","sub":"a","exp":1,"hook_answer":{"role":"web","exp":1}}',
                       '{"role":"web","exp":1,"hook_answer":{"role":"web","exp":1.0,"tid":"x"}}',
                       '{"role":"web","hook_answer":[{"role":"web"}]}']:
        cl.append(struct.pack("<qH", now, leeway) + c.encode())
write("claims", cl)

b64_seeds = ["", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy", "Zg==", "Zh", "Z",
             "-_8", "+/8", a1["key_base64url"], a1["key_base64url"] + "==", b64(FUZZ_KEY)]
for case in VECTORS["rfc4231"]:
    for k in ("key_hex", "data_hex", "hmac_sha256"):
        b64_seeds.append(b64(bytes.fromhex(case[k])))
write("base64url", b64_seeds)

write("cookie", ['theme=dark; refresh_token="abc"; =nameless; novalue; refresh_token=second;  spaced = v ',
                 "refresh_token=" + b64(b"\x01" * 32), "a=b=c", ";;;=;", 'x="', '""',
                 "access_token=" + pgjwt + "; refresh_token=" + "A" * 43,
                 "refresh_token=abc|/rpc/refresh_token", "v|/x; Domain=evil", "x\x00y=z",
                 "refresh_token=\u00e9\u20ac; a=1", "refresh_token=victim; refresh_token=attacker",
                 "refresh_token=; refresh_token=x", "refresh_token=a\x00b", 'refresh_token=""'])

# request: [header text]\n[cookie name or more preferences]\n[request.cookies JSON]
write("request", ["return=minimal, tx=rollback", "tx=commit, tx=rollback", "TX = Rollback ; x=y",
                  'tx="rollback"', "tx=rollbackx", "xtx=rollback", "tx=commit\ntx=rollback",
                  "Bearer " + pgjwt, "bearer    " + pgjwt + "  ", "Bearer a b", "Bearer\ta",
                  "Basic dXNlcjpwYXNz", "Bearer pgauth_" + "A" * 43, "Bearer a\x00b",
                  'refresh_token=victim; refresh_token=attacker\nrefresh_token\n{"refresh_token":"attacker"}',
                  'theme=dark; refresh_token="abc"\nrefresh_token\n{"refresh_token":"other"}',
                  'a=1\naccess_token\n{"access_token":"j","refresh_token":"r"}',
                  'refresh_token=\nrefresh_token\n{"refresh_token":5}',
                  '\nrefresh_token\n{"refresh_token":"a\\u0000b"}', "\n\n", ""])

dummy = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
write("password_hash", [dummy, dummy.replace("$2a$", "$2b$"), dummy.replace("$2a$", "$2y$"),
                        dummy.replace("$05$", "$31$"), dummy.replace("$05$", "$21$"),
                        dummy.replace("$05$", "$03$"), dummy[:-1], dummy + "x", "$2x$" + dummy[4:],
                        "$2a$5$" + dummy[7:] + "x", "$1$abc$def", "", "U*U\n" + dummy,
                        "a" * 73 + "\n" + dummy, "\n" + dummy, "\u20ac" * 25 + "\nplain",
                        "$2a$05$" + "\u00e9" * 26 + "x", dummy.replace("$05$", "$14$"),
                        dummy.replace("$05$", "$15$"), dummy.replace("$05$", "$99$"),
                        dummy.replace("$05$", "$00$"), "\x0e\x0c"]
      # argon2: the reference implementation's vectors (core/vectors/argon2_vectors.json), one
      # written by argon2-cffi, then hostile shapes: argon2d, version 16, huge parameters, extra
      # parameters, padding, short and long salts and hashes.
      + [v["phc"] for v in ARGON2["reference_phc"][:3]]
      + ["correct horse battery staple\n" + ARGON2["argon2_cffi"]["hashes"][0]["phc"],
         ARGON2["version16_refused"]["phc"],
         "$argon2d$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
         "$argon2id$v=19$m=4294967295,t=4294967295,p=16777215$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
         "$argon2id$v=19$m=262144,t=4,p=64$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
         "$argon2i$v=19$m=65536,t=2,p=1,data=YQ$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
         "$argon2id$v=19$m=0256,t=2,p=1$c29tZXNhbHQ=$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4=",
         "$argon2id$v=19$m=8,t=1,p=1$" + "A" * 86 + "$" + "A" * 86,
         "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAA"])

u = "0b5ea6b2-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
write("credentials", ["pgauth_" + "A" * 43, "A" * 43, "pgauth_" + "\u20ac" * 10, u, u.upper(),
                      "{" + u + "}", u.replace("-", ""),
                      '{"role":"anon"}', '{"tid":"%s","sid":"%s","key_id":null}' % (u, u),
                      '{"tid":"nope"}', '{"sid":5}', '{"key_id":["x"]}', '[{"tid":"%s"}]' % u,
                      '{"\\u0074id":"%s"}' % u, '{"tid":"%s","tid":null}' % u,
                      '{"org":7,"sub":"x"}', '{"exp":1}', "not json", "s3cret-proxy-values3cret-proxy-value"])
# Public keys: every accepted form (PEM SPKI and PKCS#1, JWK) and a few refused ones.
KEYS = json.load(open(os.path.join(HERE, "..", "core", "vectors", "openssl_test_keys.json")))
JWS = json.load(open(os.path.join(HERE, "..", "core", "vectors", "jws_asymmetric_vectors.json")))
pk = []
for name in ["es256", "ed25519", "rsa2048", "rsa4096"]:
    pk.append(KEYS[name]["public_pem"])
    pk.append(json.dumps(dict(KEYS[name]["jwk"], alg={"es256": "ES256", "ed25519": "EdDSA"}.get(name, "RS256"),
                              use="sig", kid=name)))
pk.append(KEYS["rsa2048"]["public_pkcs1_pem"])
pk += [json.dumps(JWS[v]["public_jwk"]) for v in ["rfc7515_a2", "rfc7515_a3", "rfc8037", "rfc7638"]]
pk += [KEYS[n]["public_pem"] for n in ["p384", "secp256k1", "x25519", "ed448", "rsa1024"]]
pk += [KEYS["es256"]["private_pkcs8_pem"], KEYS["es256"]["certificate_pem"],
       json.dumps(KEYS["rsa2048"]["private_jwk"]), '{"kty":"oct","k":"AAAA"}',
       json.dumps({"keys": [KEYS["es256"]["jwk"]]}), "", "{", "-----BEGIN PUBLIC KEY-----\n"]
write("public_key", pk)
# role_path: [path]\n[claims JSON]
rp_claims = ('{"role":"web_user","realm_access":{"roles":["admin",7]},'
             '"https://example.com/roles":["editor"],"a":{"b":"x","b":null},"n":5,"0":"zero"}')
write("role_path", [p + "\n" + rp_claims for p in
                    [".role", '."role"', ".realm_access.roles[0]", ".realm_access.roles[1]",
                     '."https://example.com/roles"[0]', '."cognito:groups"[0]', ".a.b", ".0",
                     ".role[0]", ".a[007]", '.""', ".$x@y_z.\u00f1", ".n"]]
                   + ["", ".", "role", ".a..b", ".a[", ".a[]", ".a[-1]", ".a[0][1]",
                      ".a[99999999999999999999]", '.roles[?(@ == "admin")]', '."open',
                      ".ro le", " .role", "." + "a" * 256, ".role\n[]", ".role\n{"])

# email: an address as typed
write("email", ["ann@example.com", "Ann@Example.COM", "a@b", "\u00c9lodie@exemple.fr",
                "\u0130@x.y", "@example.com", "ann@", "a@b@c", "ann @example.com", "ann\t@x.y",
                "", "ab", "a" * 250 + "@x.y", "\u0130" * 126 + "@x.y"])

print("seeds written under", os.path.join(HERE, "seeds"))
