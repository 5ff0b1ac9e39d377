// Black-box: vvctl dlq list|show|redrive on both queue backends (issue 14). Dead letters are
// written as the engine writes them (raw_body = the original canonical ingest envelope) and
// as the gateway writes them (raw_body = a refused request body, here with a terminal escape
// and a bidi override). Checks: paging and bounds, escaping of every stored string, redrive
// of an intact envelope back to the ingest queue (and the entry retired), refusal of an
// altered envelope (integrity hash) and of a non-envelope, unknown sequences.
// JetStream case needs nats-server (fails unless VV_ALLOW_MISSING_SERVERS=1).

#include <gtest/gtest.h>

#include <future>

#include "cli/run_tool.h"
#include "fakes/fake_clock.h"
#include "fakes/servers.h"
#include "fakes/temp_dir.h"
#include "json/json.h"
#include "queue/embedded_queue.h"
#include "queue/envelope_codec.h"
#include "queue/jetstream_queue.h"

namespace vv::queue {
namespace {

using vv::testing::RunTool;
using vv::testing::ToolRun;

Status PublishSync(Publisher& q, Envelope env) {
  std::promise<Status> p;
  auto f = p.get_future();
  q.Publish(std::move(env), [&p](Status s, PublishOutcome) { p.set_value(s); });
  return f.get();
}

class VvctlDlqTest : public ::testing::Test {
 protected:
  Envelope Ingest(const std::string& event_id) {
    json::Value payload = json::Value::MakeObject();
    payload.Set("event_id", event_id);
    payload.Set("tenant_id", "10000000-0000-0000-0000-000000000001");
    return MakeIngestEnvelope(std::move(payload), json::Value::MakeObject(), "t/" + event_id,
                              clock_, random_);
  }
  Envelope DeadLetter(const std::string& code, const std::string& raw) {
    return MakeDeadLetterEnvelope(code, "rejected: " + code, raw, json::Value::MakeObject(),
                                  clock_, random_);
  }
  // Three dead letters: an intact envelope, an altered one, a refused request body.
  void FillDlq(Publisher& q, Publisher& ingest_side) {
    Envelope good = Ingest("evt-good");
    ASSERT_TRUE(PublishSync(ingest_side, good).ok());
    good_message_id_ = good.message_id;
    ASSERT_TRUE(PublishSync(q, DeadLetter("evidence_max_deliveries", good.CanonicalBytes())).ok());
    Envelope altered = Ingest("evt-altered");
    altered.payload.Set("tenant_id", "20000000-0000-0000-0000-000000000002");
    ASSERT_TRUE(PublishSync(q, DeadLetter("integrity_mismatch", altered.CanonicalBytes())).ok());
    ASSERT_TRUE(PublishSync(q, DeadLetter("schema_invalid\x1b[31m",
                                          "{\"x\":\"\x1b]0;pwned\x07 \xe2\x80\xae\"}"))
                    .ok());
  }
  ToolRun Vvctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {std::string(VV_BIN_DIR) + "/vvctl", "dlq"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunTool(argv);
  }
  // A gateway config that validates (vvctl reads the operator's real gateway config).
  void WriteConfig(const std::string& queue_lines) {
    vv::testing::WriteFile(dir_.File("gw.crt"), "");
    vv::testing::WriteFile(dir_.File("ca.crt"), "");
    vv::testing::WriteFile(dir_.File("gw.key"), "", 0600);
    vv::testing::WriteFile(
        config_, "vectorvue:\n  telemetry_gateway:\n"
                 "    tls: {cert_path: gw.crt, key_path: gw.key, ca_path: ca.crt}\n"
                 "    spectrastrike_ed25519_public_key_b64: "
                 "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n"
                 "    allowed_service_identities:\n      spectrastrike-producer: " +
                     std::string(64, 'a') +
                     "\n    operator_tenant_map:\n"
                     "      op-001: 10000000-0000-0000-0000-000000000001\n" +
                     queue_lines);
  }

  // The whole operator flow; `ingest_unacked` reports whether the redriven event is waiting.
  void CheckFlow(const std::function<bool()>& ingest_has_good) {
    // list: bounded pages with a cursor, everything printable ASCII.
    ToolRun page1 = Vvctl({"list", "--config", config_, "--limit", "2"});
    ASSERT_EQ(page1.rc, 0) << page1.err << page1.out;
    for (unsigned char c : page1.out) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << int(c);
    auto p1 = json::Parse(page1.out);
    ASSERT_TRUE(p1.ok()) << page1.out;
    ASSERT_EQ(p1->Find("entries")->as_array().size(), 2u);
    const int64_t first_seq = p1->Find("entries")->as_array()[0].Find("seq")->as_int64().value();
    const int64_t second_seq = p1->Find("entries")->as_array()[1].Find("seq")->as_int64().value();
    EXPECT_TRUE(p1->Find("entries")->as_array()[0].Find("redrivable")->as_bool());
    EXPECT_FALSE(p1->Find("entries")->as_array()[1].Find("redrivable")->as_bool());
    ToolRun page2 = Vvctl({"list", "--config", config_, "--limit", "2", "--after",
                           std::to_string(p1->Find("next_after")->as_int64().value())});
    ASSERT_EQ(page2.rc, 0) << page2.err;
    for (unsigned char c : page2.out) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << int(c);
    auto p2 = json::Parse(page2.out);
    ASSERT_TRUE(p2.ok()) << page2.out;
    ASSERT_EQ(p2->Find("entries")->as_array().size(), 1u);
    EXPECT_TRUE(p2->Find("next_after")->is_null());
    const json::Value& hostile = p2->Find("entries")->as_array()[0];
    EXPECT_EQ(hostile.Find("error_code")->as_string(), "schema_invalid\\x1b[31m");
    const int64_t hostile_seq = hostile.Find("seq")->as_int64().value();
    EXPECT_EQ(Vvctl({"list", "--config", config_, "--limit", "5000"}).rc, 2);

    // show: the reason and the body, escaped.
    ToolRun show = Vvctl({"show", "--config", config_, "--seq", std::to_string(hostile_seq)});
    ASSERT_EQ(show.rc, 0) << show.err;
    for (unsigned char c : show.out) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << int(c);
    auto shown = json::Parse(show.out);
    ASSERT_TRUE(shown.ok()) << show.out;
    EXPECT_NE(shown->Find("raw_body")->as_string().find("\\x1b]0;pwned\\x07"), std::string::npos);
    EXPECT_NE(shown->Find("not_redrivable")->as_string().find("not a queue envelope"),
              std::string::npos);

    // redrive: refused for the altered envelope and the request body, done for the intact one.
    ToolRun altered = Vvctl({"redrive", "--config", config_, "--seq", std::to_string(second_seq)});
    EXPECT_EQ(altered.rc, 1);
    EXPECT_NE(altered.err.find("integrity_hash does not match"), std::string::npos) << altered.err;
    EXPECT_EQ(Vvctl({"redrive", "--config", config_, "--seq", std::to_string(hostile_seq)}).rc, 1);
    EXPECT_FALSE(ingest_has_good());
    ToolRun ok = Vvctl({"redrive", "--config", config_, "--seq", std::to_string(first_seq)});
    ASSERT_EQ(ok.rc, 0) << ok.err << ok.out;
    EXPECT_NE(ok.out.find("\"redriven\":" + std::to_string(first_seq)), std::string::npos);
    EXPECT_TRUE(ingest_has_good());
    // Retired: gone from the list, a second redrive is NotFound.
    ToolRun after = Vvctl({"list", "--config", config_});
    ASSERT_EQ(after.rc, 0);
    EXPECT_EQ(json::Parse(after.out)->Find("entries")->as_array().size(), 2u);
    EXPECT_EQ(Vvctl({"redrive", "--config", config_, "--seq", std::to_string(first_seq)}).rc, 1);
    EXPECT_EQ(Vvctl({"show", "--config", config_, "--seq", "999999"}).rc, 1);
  }

  vv::testing::TempDir dir_;
  std::string config_ = dir_.File("gw.yaml");
  vv::testing::FakeClock clock_;
  SystemRandom random_;
  std::string good_message_id_;
};

TEST_F(VvctlDlqTest, EmbeddedQueueListShowRedrive) {
  const std::string path = dir_.File("queue.db");
  auto q = EmbeddedQueue::Open(path, {});
  ASSERT_TRUE(q.ok());
  FillDlq(**q, **q);
  // The engine had given up on the good event: its ingest row is acked.
  auto in = (*q)->FetchUnacked(Kind::kIngest, 10);
  ASSERT_TRUE(in.ok());
  ASSERT_EQ(in->size(), 1u);
  ASSERT_TRUE((*q)->Ack((*in)[0].sequence).ok());
  WriteConfig("    queue_backend: embedded\n    queue_path: " + path + "\n");
  CheckFlow([&] {
    auto u = (*q)->ListUnacked(Kind::kIngest, 0, 10);
    return u.ok() && u->size() == 1 && (*u)[0].envelope.message_id == good_message_id_;
  });
  // Requeued, not duplicated.
  EXPECT_EQ(*(*q)->Count(Kind::kIngest), 1);
  EXPECT_EQ(*(*q)->DeliveredCount((*in)[0].sequence), 0);
}

TEST_F(VvctlDlqTest, JetStreamListShowRedrive) {
  vv::testing::NatsServer nats;
  VV_REQUIRE_SERVER(nats);
  JetStreamOptions jo;
  jo.nats.url = nats.url();
  auto pub = JetStreamPublisher::Create(jo);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  FillDlq(**pub, **pub);
  auto c = JetStreamConsumer::Create(jo, jo.ingest_stream, jo.ingest_subject, "engine");
  ASSERT_TRUE(c.ok());
  auto first = (*c)->Fetch(10, 1000);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  ASSERT_TRUE((*c)->Ack((*first)[0].sequence).ok());
  WriteConfig("    queue_backend: nats\n    nats_url: " + nats.url() + "\n");
  CheckFlow([&] {
    auto got = (*c)->Fetch(10, 1000);
    if (!got.ok() || got->size() != 1) return false;
    (void)(*c)->Ack((*got)[0].sequence);
    return (*got)[0].envelope.message_id == good_message_id_;
  });
  EXPECT_EQ(*(*pub)->StoredCount(Kind::kDeadLetter), 2u);
}

}  // namespace
}  // namespace vv::queue
