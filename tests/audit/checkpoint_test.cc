// Signed-note checkpoints: format, key id, signing and parsing.
#include "audit/checkpoint.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/encoding.h"
#include "crypto/crypto.h"
#include "fakes/temp_dir.h"

namespace vv::audit {
namespace {

// The example key and note of the signed-note spec (golang.org/x/mod/sumdb/note):
//   PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz
TEST(CheckpointTest, SignedNoteSpecExampleKeyAndSignature) {
  auto blob = Base64DecodeStrict("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz");
  ASSERT_TRUE(blob.has_value());
  ASSERT_EQ(blob->size(), 33u);
  auto key = crypto::Ed25519PrivateKey::FromSeed(blob->substr(1));
  ASSERT_TRUE(key.ok());
  CheckpointSigner signer("PeterNeumann", *key);
  EXPECT_EQ(HexEncode(signer.key_id()), "c74f20a3");
  EXPECT_EQ(NoteVerifierKey("PeterNeumann", signer.public_key()),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
  const std::string text =
      "If you think cryptography is the answer to your problem,\n"
      "then you don't know what your problem is.\n";
  const std::string sig = *signer.Sign(text);
  EXPECT_EQ(signer.SignatureLine(sig),
            "\xe2\x80\x94 PeterNeumann "
            "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
            "qdngotpRZb6KE6RyyBwJnAM=\n");
}

TEST(CheckpointTest, KeyIdIsSha256OfNameNewlineAlgPubkey) {
  auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x07')).value();
  const std::string pub = key.PublicKey().raw();
  EXPECT_EQ(NoteKeyId("example.com/log", key.PublicKey()),
            crypto::Sha256("example.com/log\n\x01" + pub).substr(0, 4));
}

TEST(CheckpointTest, BodyRoundTripsAndSignatureVerifies) {
  auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x01')).value();
  CheckpointSigner signer("vectorvue.test/log", key);
  Checkpoint cp{"vectorvue.test/log", 42, std::string(32, '\xab')};
  const std::string body = CheckpointBody(cp);
  EXPECT_EQ(body, "vectorvue.test/log\n42\n" + Base64Encode(std::string(32, '\xab')) + "\n");
  const std::string note_text = body + "\n" + signer.SignatureLine(*signer.Sign(body));
  auto note = ParseSignedNote(note_text);
  ASSERT_TRUE(note.ok()) << note.status().ToString();
  EXPECT_EQ(note->body, body);
  ASSERT_EQ(note->signatures.size(), 1u);
  EXPECT_TRUE(VerifyNoteSignature(*note, "vectorvue.test/log", signer.public_key()).ok());
  auto parsed = ParseCheckpointBody(note->body);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->origin, cp.origin);
  EXPECT_EQ(parsed->tree_size, 42u);
  EXPECT_EQ(parsed->root_hash, cp.root_hash);

  // Another key, another name, or a changed body does not verify.
  auto other = crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x02')).value();
  EXPECT_EQ(VerifyNoteSignature(*note, "vectorvue.test/log", other.PublicKey()).code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(VerifyNoteSignature(*note, "other", signer.public_key()).ok());
  std::string changed = note_text;
  changed.replace(changed.find("\n42\n"), 4, "\n43\n");
  EXPECT_EQ(VerifyNoteSignature(*ParseSignedNote(changed), "vectorvue.test/log",
                                signer.public_key())
                .code(),
            StatusCode::kDataLoss);
}

TEST(CheckpointTest, MalformedNotesAndBodiesAreRejected) {
  const std::string root = Base64Encode(std::string(32, '\x01'));
  for (const std::string& body : std::vector<std::string>{
           "", "o\n1\n", "\n1\n" + root + "\n", "o\n01\n" + root + "\n",
        "o\n-1\n" + root + "\n", "o\n1\nAAAA\n", "o\n1\n" + root, "o\n1\n" + root + "\n\n",
        "o\n99999999999999999999\n" + root + "\n"}) {
    EXPECT_FALSE(ParseCheckpointBody(body).ok()) << body;
  }
  EXPECT_TRUE(ParseCheckpointBody("o\n0\n" + root + "\next\n").ok());
  for (const std::string& note : std::vector<std::string>{
           "no blank line\n", "body\n\nnot a signature\n", "body\n\n- k AAAAAAAA\n",
        "body\n\n\xe2\x80\x94 k\n", "body\n\n\xe2\x80\x94 k !!!\n",
        "body\n\n\xe2\x80\x94 k AAAA\n", "body\n\n\xe2\x80\x94 k+x AAAAAAAA\n",
        "body\n\n\xe2\x80\x94 k AAAAAAAA"}) {
    EXPECT_FALSE(ParseSignedNote(note).ok()) << note;
  }
  auto unsigned_note = ParseSignedNote("o\n1\n" + root + "\n\n");
  ASSERT_TRUE(unsigned_note.ok());
  EXPECT_TRUE(unsigned_note->signatures.empty());
}

TEST(CheckpointTest, PublicKeyArgumentForms) {
  testing::TempDir dir;
  auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, '\x05')).value();
  const auto pub = key.PublicKey();
  EXPECT_EQ(ParsePublicKeyArg(pub.ToBase64())->raw(), pub.raw());
  EXPECT_EQ(ParsePublicKeyArg(NoteVerifierKey("a/b", pub))->raw(), pub.raw());
  testing::WriteFile(dir.File("pub.pem"), crypto::PublicKeyToPem(pub));
  EXPECT_EQ(ParsePublicKeyArg(dir.File("pub.pem"))->raw(), pub.raw());
  testing::WriteFile(dir.File("pub.b64"), pub.ToBase64() + "\n");
  EXPECT_EQ(ParsePublicKeyArg(dir.File("pub.b64"))->raw(), pub.raw());
  testing::WriteFile(dir.File("priv.pem"), key.ToPem());
  EXPECT_FALSE(ParsePublicKeyArg(dir.File("priv.pem")).ok());
  EXPECT_FALSE(ParsePublicKeyArg("garbage").ok());
  std::string bad_id = NoteVerifierKey("a/b", pub);
  bad_id[4] = bad_id[4] == '0' ? '1' : '0';
  EXPECT_FALSE(ParsePublicKeyArg(bad_id).ok());
}

}  // namespace
}  // namespace vv::audit
