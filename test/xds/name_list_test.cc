// Subscription name lists are shared between streams that name the same resources: the
// hundred-cluster EDS list of every Envoy of a gateway is stored once.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "xds/name_list.h"
#include "xds/sotw_state.h"

namespace tern::xds {
namespace {

std::vector<std::string> Hundred(const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 100; i < 200; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

TEST(NameListTest, TwoStreamsNamingTheSameClustersShareOneList) {
  NameList a = NameList::Intern(Hundred("c"));
  NameList b = NameList::Intern(Hundred("c"));
  NameList c = NameList::Intern(Hundred("d"));
  EXPECT_EQ(&a.names(), &b.names());
  EXPECT_NE(&a.names(), &c.names());
  EXPECT_EQ(a.names(), Hundred("c"));
  EXPECT_TRUE(a.contains("c150"));
  EXPECT_FALSE(a.contains("d150"));
  EXPECT_TRUE(NameList().empty());
}

TEST(NameListTest, ListsNoStreamUsesAnyMoreDoNotAccumulate) {
  // Streams come and go with their own lists (e.g. proxies naming their own instance):
  // the table keeps weak references and sweeps the dead ones, so it stays bounded.
  for (int i = 0; i < 5000; ++i) NameList::Intern({"only-" + std::to_string(i)});
  EXPECT_LE(NameList::TableSize(), 1024u);
  NameList live = NameList::Intern({"only-4999"});
  EXPECT_EQ(live.names(), std::vector<std::string>{"only-4999"});
}

TEST(NameListTest, SotwStreamsWithTheSameSubscriptionReportTheSameNames) {
  envoy::service::discovery::v3::DiscoveryRequest req;
  req.set_type_url(std::string(TypeUrl(ResourceType::kEndpoint)));
  for (const auto& n : Hundred("c")) req.add_resource_names(n);
  req.add_resource_names("c150");  // duplicates and order do not matter
  SotwState s1(std::nullopt), s2(std::nullopt);
  RequestKind kind;
  ResourceType type;
  ASSERT_TRUE(s1.OnRequest(req, &kind, &type).ok());
  ASSERT_TRUE(s2.OnRequest(req, &kind, &type).ok());
  EXPECT_EQ(s1.View(ResourceType::kEndpoint).names, Hundred("c"));
  EXPECT_EQ(s1.info(ResourceType::kEndpoint).names, 100u);
  EXPECT_EQ(s2.View(ResourceType::kEndpoint).names, Hundred("c"));
}

}  // namespace
}  // namespace tern::xds
