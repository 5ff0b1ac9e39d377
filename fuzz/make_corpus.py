#!/usr/bin/env python3
"""Regenerates the seed corpora under fuzz/corpus/ (except envelope_fuzz/ingest_*, which is
produced by vv::queue::MakeIngestEnvelope; see fuzz/README.md). Deterministic: uses only the
wire-contract Appendix A vectors. Run from anywhere: python3 fuzz/make_corpus.py"""
import base64
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def canon(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


A2_BODY = ('{"campaign_id":"cmp-001","execution_hash":"' + "f" * 64 + '","nonce":"nonce-vector-0001",'
           '"operator_id":"op-001","payload":{"attributes":{"asset_ref":"host-nyc-01",'
           '"attestation_measurement_hash":"' + "b" * 64 + '","schema_version":"1.0"},'
           '"description":"Observed suspicious process chain","event_id":"evt-vector-0001",'
           '"event_type":"PROCESS_ANOMALY","mitre_tactics":["TA0002"],"mitre_techniques":["T1059.001"],'
           '"observed_at":"2026-02-26T12:00:00Z","severity":"high","source_system":"spectrastrike-sensor"},'
           '"signed_metadata":{"campaign_id":"cmp-001","operator_id":"op-001",'
           '"tenant_id":"10000000-0000-0000-0000-000000000001"},'
           '"tenant_id":"10000000-0000-0000-0000-000000000001","timestamp":1772107200}')
assert len(A2_BODY) == 790
assert hashlib.sha256(A2_BODY.encode()).hexdigest() == \
    "1e0392aced563264e98d218d46f83dee735cbd8d06f06588bbdee8956a8baa91"
A2_SIG = "HjuDkbBV7mkWMfumR2il3i0/5MJE0VbYV+s3pxI1zGAJSuqP8oveXSbQbf4+h209uS6DSLZcpGRmiatw0pBqDQ=="
A1_PUB = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="


def a2_insertion_order():
    b = json.loads(A2_BODY)
    p = b["payload"]
    return json.dumps({
        "operator_id": b["operator_id"], "campaign_id": b["campaign_id"],
        "tenant_id": b["tenant_id"], "execution_hash": b["execution_hash"],
        "timestamp": b["timestamp"], "nonce": b["nonce"],
        "signed_metadata": {"tenant_id": b["tenant_id"], "operator_id": "op-001",
                            "campaign_id": "cmp-001"},
        "payload": {k: p[k] for k in ["event_id", "event_type", "source_system", "severity",
                                      "observed_at", "mitre_techniques", "mitre_tactics",
                                      "description"]} | {
            "attributes": {k: p["attributes"][k] for k in
                           ["asset_ref", "schema_version", "attestation_measurement_hash"]}},
    }, separators=(",", ":"))


# --- json_parse_fuzz ------------------------------------------------------------------------
write("json_parse_fuzz", "a2_body.json", A2_BODY)
write("json_parse_fuzz", "a7_edge.json",
      '{"a":1.0,"b":1e+20,"c":0.30000000000000004,"k":"\\u00e9\\u2028\\ud83d\\ude00\\u007f"}')
write("json_parse_fuzz", "a7_raw_utf8.json",
      '{"k":"\u00e9\u2028\U0001F600\x7f","a":1.0,"b":1e20,"c":0.30000000000000004}')
write("json_parse_fuzz", "numbers.json",
      '[0,-0,-0.0,1E5,1e-5,0.1e-7,123456789012345678901234567890123456789,'
      '-9223372036854775809,9223372036854775807,1.7976931348623157e308,5e-324,2.5,100.0]')
write("json_parse_fuzz", "escapes.json",
      ' {"\\"\\\\\\/\\b\\f\\n\\r\\t":"\\u0000\\u001f\\u0020","":[],"x":{},"n":null,'
      '"t":true,"f":false} \n')
write("json_parse_fuzz", "nested.json", "[" * 40 + "{}" + "]" * 40)
write("json_parse_fuzz", "dup_keys.json", '{"a":1,"a":2}')
write("json_parse_fuzz", "lone_surrogate.json", '["\\ud800","\\udc00x"]')

# --- schema_fuzz ----------------------------------------------------------------------------
write("schema_fuzz", "a2_body.json", A2_BODY)
write("schema_fuzz", "a2_insertion_order.json", a2_insertion_order())
b = json.loads(A2_BODY)
b["payload"]["description"] = "<script>alert('x')</script> & \"quotes\" \u00e9"
b["payload"]["attributes"]["extra"] = {"nested": [1, 2.5, None, True]}
write("schema_fuzz", "html_in_description.json", canon(b))
b = json.loads(A2_BODY)
del b["payload"]["mitre_tactics"]
b["payload"]["mitre_techniques"] = ["T9999"]
write("schema_fuzz", "bad_technique.json", canon(b))
b = json.loads(A2_BODY)
b["payload"]["observed_at"] = "2026-02-26T12:00:00.123456+05:30"
b["payload"]["severity"] = "critical"
write("schema_fuzz", "offset_time.json", canon(b))

# --- audit_verify_fuzz ----------------------------------------------------------------------
def entry(index, ts, event_type, actor, details, prev):
    rec = {"index": index, "timestamp": ts, "event_type": event_type, "actor": actor,
           "details": details, "previous_hash": prev}
    rec["entry_hash"] = hashlib.sha256(canon(rec).encode()).hexdigest()
    return rec


e1 = entry(1, "2026-03-01T00:00:00+00:00", "telemetry.accepted", "telemetry_gateway",
           {"request_id": "r1"}, "")
assert e1["entry_hash"] == "b8b9dedfd030966105bcaa78d275968663a65ea1fbccc8e1fed11a9c61722085"
e2 = entry(2, "2026-03-01T00:00:01+00:00", "telemetry.rejected", "telemetry_gateway",
           {"request_id": "r2", "status_code": 401, "detail": "Invalid telemetry signature"},
           e1["entry_hash"])
assert e2["entry_hash"] == "a8f4e69753af334a7dd681aed59e2ee517d535365d2e287118bef4db79843e67"
seal_at = "2026-03-01T00:00:01.500000+00:00"
s2 = entry(2, seal_at, "log.sealed", "SYSTEM",
           {"sealed_index": 2, "last_entry_hash": e2["entry_hash"], "sealed_at": seal_at},
           e2["entry_hash"])
e4 = entry(4, "2026-03-01T00:00:02.000123+00:00", "federation.accepted", "telemetry_gateway",
           {"request_id": "r3", "bundle_hash": "7" * 64, "operator_id": "op-001"},
           s2["entry_hash"])
lines = [canon(x) for x in (e1, e2)]
write("audit_verify_fuzz", "a6_reference.jsonl", "\n".join(lines) + "\n")
write("audit_verify_fuzz", "a6_sealed.jsonl",
      "\n".join(canon(x) for x in (e1, e2, s2, e4)) + "\n")
write("audit_verify_fuzz", "a6_torn_tail.jsonl", lines[0] + "\n" + lines[1][:57])
write("audit_verify_fuzz", "a6_tampered.jsonl",
      lines[0] + "\n" + lines[1].replace('"r2"', '"r9"') + "\n")
write("audit_verify_fuzz", "a6_second_only.jsonl", lines[1] + "\n")
write("audit_verify_fuzz", "empty.jsonl", "")

# --- config_fuzz ----------------------------------------------------------------------------
with open(os.path.join(ROOT, "deploy", "config", "gateway.example.yaml"), "rb") as f:
    write("config_fuzz", "gateway.example.yaml", f.read())
write("config_fuzz", "minimal.yaml",
      "vectorvue:\n  telemetry_gateway:\n    profile: development\n"
      "    allowed_clock_skew_seconds: 30\n    nonce_ttl_seconds: 120\n"
      "    spectrastrike_ed25519_public_key_b64: " + A1_PUB + "\n"
      "    allowed_service_identities:\n      svc: " + "a" * 64 + "\n"
      "    operator_tenant_map: {op-001: 10000000-0000-0000-0000-000000000001}\n")
write("config_fuzz", "flow_style.yaml",
      '{vectorvue: {telemetry_gateway: {listen: "[::1]:8443", require_mtls: off, '
      'insecure_dev_mode: yes, allowed_schema_versions: ["1.0", "1.1"], '
      'feedback_ed25519_keys: {kid-001: keys/f.key}, audit_seal_every: 0x10}}}\n')
write("config_fuzz", "anchors.yaml",
      "base: &b {nonce_backend: redis, redis_url: 'redis://:p@r:6379/0'}\n"
      "vectorvue:\n  telemetry_gateway:\n    <<: *b\n    profile: production\n"
      "    queue_backend: nats\n    nats_url: nats://n:4222\n    listen: 0.0.0.0:99999\n")
write("config_fuzz", "bad_yaml.yaml", "vectorvue: [\n  telemetry_gateway: {: :\n\t- !!binary x\n")

# --- envelope_fuzz (DLQ vector A.3; ingest envelopes come from MakeIngestEnvelope) ----------
dlq_payload = {"error_code": "invalid_json", "error_message": "Invalid JSON payload",
               "raw_body": "{not json"}
dlq = {"message_id": "00010203-0405-4607-8809-0a0b0c0d0e0f", "kind": "dead_letter",
       "created_at": "2026-02-26T12:00:00.000000+00:00",
       "integrity_hash": hashlib.sha256(canon(dlq_payload).encode()).hexdigest(),
       "trace": {"request_id": "r1"}, "payload": dlq_payload}
assert dlq["integrity_hash"] == "c27f029e0f70c43bd8318c17c28a8a7b7c7fd73281654156eefbd5ba728d6623"
write("envelope_fuzz", "a3_dead_letter.json", canon(dlq))
bad = dict(dlq, integrity_hash="0" * 64)
write("envelope_fuzz", "wrong_hash.json", canon(bad))
write("envelope_fuzz", "unknown_kind.json", canon(dict(dlq, kind="other")))

# --- base64_fuzz ----------------------------------------------------------------------------
write("base64_fuzz", "a1_pubkey.b64", A1_PUB)
write("base64_fuzz", "a2_sig.b64", A2_SIG)
write("base64_fuzz", "noncanonical.b64", "QUI=QUJ=")
write("base64_fuzz", "lenient_junk.b64", " A6EH v/PO\nEL4d*cN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=!")
write("base64_fuzz", "urlsafe.b64", "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg")
write("base64_fuzz", "hex.txt", "000102030405060708090A0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
write("base64_fuzz", "binary.bin", bytes(range(256)))

# --- signature_headers_fuzz (ts \n nonce \n signature \n body; never a valid signature) ------
sig = bytearray(base64.b64decode(A2_SIG))
sig[0] ^= 1
flipped = base64.b64encode(bytes(sig)).decode()
s = lambda ts, nonce, sg, body=A2_BODY: f"{ts}\n{nonce}\n{sg}\n{body}"
write("signature_headers_fuzz", "a2_flipped_sig.txt", s("1772107200", "nonce-vector-0001", flipped))
write("signature_headers_fuzz", "a2_other_nonce.txt", s("1772107200", "nonce-vector-0002", A2_SIG))
write("signature_headers_fuzz", "a2_plus_ts_skew.txt",
      s(" +1772107229 ", " nonce-vector-0001\t", A2_SIG[:-2] + "AA"))
write("signature_headers_fuzz", "skewed.txt", s("1772107231", "n", A2_SIG))
write("signature_headers_fuzz", "huge_ts.txt", s("-9223372036854775808", "n", A2_SIG))
write("signature_headers_fuzz", "bad_padding.txt", s("1772107200", "n", "QUJD="))
write("signature_headers_fuzz", "short_sig.txt", s("1772107200", "n", "QUJD", "{}"))
write("signature_headers_fuzz", "not_base64.txt", s("1772107200", "n", "a-b_c"))
write("signature_headers_fuzz", "missing_sig.txt", "1772107200\nnonce\n")
write("signature_headers_fuzz", "missing_nonce.txt", "1772107200")

# --- request_body_fuzz (federation bundle, execution graph, feedback query bodies) ----------
BUNDLE = {"operator_id": "op-001", "campaign_id": "cmp-001", "execution_hash": "a" * 64,
          "timestamp": 1772107200, "nonce": "bundle-nonce-0001",
          "signature": base64.b64encode(b"\x01" * 64).decode()}
write("request_body_fuzz", "bundle.json", canon({"bundle": BUNDLE}))
write("request_body_fuzz", "bundle_pipe.json", canon({"bundle": dict(BUNDLE, nonce="a|b-c-d-e-f-g-h")}))
write("request_body_fuzz", "bundle_extra.json", canon({"bundle": dict(BUNDLE, admin=True)}))
GRAPH = {"operator_id": "op-001", "tenant_id": "10000000-0000-0000-0000-000000000001",
         "execution_fingerprint": "B" * 64, "timestamp": 1772107200, "nonce": "graph-nonce-1",
         "schema_version": "execution.graph.v1", "attestation_measurement_hash": "c" * 64,
         "graph": {"target_urn": "urn:target:host-1", "nodes": [{"id": "n1"}], "edges": []}}
write("request_body_fuzz", "graph.json", canon(GRAPH))
write("request_body_fuzz", "feedback.json",
      canon({"operator_id": "op-001", "tenant_id": "10000000-0000-0000-0000-000000000001",
             "timestamp": 1772107200, "nonce": "feedback-n-1", "limit": 10}))
