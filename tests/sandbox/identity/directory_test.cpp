// identity.toml: the default file, its round trip, and errors that name the line and key.
#include "sandbox/identity/directory.hpp"

#include <gmock/gmock.h>

#include <sys/stat.h>

#include <random>

namespace mailoauth::sandbox {
namespace {

using ::testing::HasSubstr;

TEST(identity_directory, default_file_is_written_once_private_and_reads_back) {
  std::random_device rd;
  const auto dir =
      std::filesystem::temp_directory_path() / ("mailoauth-identity-dir-" + std::to_string(rd()));
  auto first = load_or_create_directory(dir);
  ASSERT_TRUE(first) << first.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((dir / "identity.toml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);

  EXPECT_EQ(first->tenant.domain, "contoso.onmicrosoft.com");
  ASSERT_EQ(first->applications.size(), 2U);
  const auto& pub = first->applications[0];
  EXPECT_FALSE(pub.confidential);
  EXPECT_EQ(pub.redirect_uris.at(0), "http://localhost");
  const auto& conf = first->applications[1];
  EXPECT_TRUE(conf.confidential);
  EXPECT_TRUE(conf.admin_consent);
  EXPECT_FALSE(conf.client_secret.empty());
  ASSERT_NE(first->find_user("TEST@contoso.onmicrosoft.com"), nullptr);
  EXPECT_NE(first->find_user("alex@contoso.onmicrosoft.com"), nullptr);

  auto second = load_or_create_directory(dir);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->tenant.id, first->tenant.id);
  EXPECT_EQ(second->applications[1].client_secret, conf.client_secret);
  EXPECT_EQ(second->users[0].password, first->users[0].password);
  std::filesystem::remove_all(dir);
}

TEST(identity_directory, errors_name_the_line_and_the_key) {
  const auto bad = parse_directory(
      "[tenant]\nid = \"6f1c1a52-3c6d-4b8e-9a51-0d3b0c7a2e11\"\ndomain = \"contoso.example\"\n\n"
      "[[applications]]\nclient_id = \"6f1c1a52-3c6d-4b8e-9a51-0d3b0c7a2e12\"\n"
      "delegated_permissions = [\"Mail.Read\"]\n",
      "identity.toml");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message,
              HasSubstr("identity.toml:7: applications[0].delegated_permissions holds "
                        "\"Mail.Read\""));
  const auto secretless = parse_directory(
      "[tenant]\nid = \"6f1c1a52-3c6d-4b8e-9a51-0d3b0c7a2e11\"\ndomain = \"contoso.example\"\n\n"
      "[[applications]]\nclient_id = \"6f1c1a52-3c6d-4b8e-9a51-0d3b0c7a2e12\"\n"
      "type = \"confidential\"\n",
      "identity.toml");
  ASSERT_FALSE(secretless);
  EXPECT_THAT(secretless.error().message, HasSubstr("client_secret is required"));
}

}  // namespace
}  // namespace mailoauth::sandbox
