// Which proxies a CSDS request selects (ClientStatusRequest.node_matchers), and which requests
// tern refuses, told as what an operator asking about a fleet would see.
#include "xds/node_matcher.h"

#include <gtest/gtest.h>

#include "envoy/type/matcher/v3/node.pb.h"
#include "google/protobuf/struct.pb.h"

namespace tern::xds {
namespace {

using envoy::type::matcher::v3::NodeMatcher;
using envoy::type::matcher::v3::StringMatcher;
using envoy::type::matcher::v3::StructMatcher;
using google::protobuf::RepeatedPtrField;
using google::protobuf::Struct;

// The fleet: metadata {zone, canary, weight, labels: {tier}, roles: [...]}.
Struct Metadata(const std::string& zone, bool canary, double weight, const std::string& tier,
                std::vector<std::string> roles) {
  Struct s;
  auto& f = *s.mutable_fields();
  f["zone"].set_string_value(zone);
  f["canary"].set_bool_value(canary);
  f["weight"].set_number_value(weight);
  (*f["labels"].mutable_struct_value()->mutable_fields())["tier"].set_string_value(tier);
  auto* list = f["roles"].mutable_list_value();
  for (const auto& r : roles) list->add_values()->set_string_value(r);
  f["retired"].set_null_value(google::protobuf::NULL_VALUE);
  return s;
}

class NodeMatcherTest : public ::testing::Test {
 protected:
  const Struct edge_md_ = Metadata("eu-west-1a", true, 10, "frontend", {"ingress", "waf"});
  const Struct core_md_ = Metadata("us-east-1b", false, 90, "backend", {"egress"});

  // Selected proxies among edge-envoy-1 (edge_md_) and core-envoy-2 (core_md_).
  std::vector<std::string> Selected(const RepeatedPtrField<NodeMatcher>& ms) {
    auto compiled = NodeMatchers::Compile(ms);
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    if (!compiled.ok()) return {"<error>"};
    std::vector<std::string> out;
    if (compiled->Matches("edge-envoy-1", edge_md_)) out.push_back("edge-envoy-1");
    if (compiled->Matches("core-envoy-2", core_md_)) out.push_back("core-envoy-2");
    return out;
  }
  static RepeatedPtrField<NodeMatcher> ById(const std::function<void(StringMatcher*)>& set) {
    RepeatedPtrField<NodeMatcher> ms;
    set(ms.Add()->mutable_node_id());
    return ms;
  }
  static StructMatcher* AtPath(NodeMatcher* m, std::vector<std::string> path) {
    auto* sm = m->add_node_metadatas();
    for (const auto& k : path) sm->add_path()->set_key(k);
    return sm;
  }
  static std::string Refusal(const RepeatedPtrField<NodeMatcher>& ms) {
    auto compiled = NodeMatchers::Compile(ms);
    EXPECT_FALSE(compiled.ok());
    if (compiled.ok()) return "";
    EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(compiled.status().message());
  }
  using V = std::vector<std::string>;
};

TEST_F(NodeMatcherTest, NoMatcherSelectsEveryProxy) {
  EXPECT_EQ(Selected({}), (V{"edge-envoy-1", "core-envoy-2"}));
}

TEST_F(NodeMatcherTest, EachStringMatcherKindSelectsByNodeId) {
  EXPECT_EQ(Selected(ById([](auto* m) { m->set_exact("core-envoy-2"); })), V{"core-envoy-2"});
  EXPECT_EQ(Selected(ById([](auto* m) { m->set_exact("core-envoy"); })), V{});
  EXPECT_EQ(Selected(ById([](auto* m) { m->set_prefix("edge-"); })), V{"edge-envoy-1"});
  EXPECT_EQ(Selected(ById([](auto* m) { m->set_suffix("-2"); })), V{"core-envoy-2"});
  EXPECT_EQ(Selected(ById([](auto* m) { m->set_contains("envoy"); })), (V{"edge-envoy-1", "core-envoy-2"}));
  EXPECT_EQ(Selected(ById([](auto* m) { m->mutable_safe_regex()->set_regex("[a-z]+-envoy-1"); })),
            V{"edge-envoy-1"});
}

TEST_F(NodeMatcherTest, ARegexMustMatchTheWholeNodeId) {
  EXPECT_EQ(Selected(ById([](auto* m) { m->mutable_safe_regex()->set_regex("envoy"); })), V{});
  EXPECT_EQ(Selected(ById([](auto* m) { m->mutable_safe_regex()->set_regex(".*envoy.*"); })),
            (V{"edge-envoy-1", "core-envoy-2"}));
}

TEST_F(NodeMatcherTest, IgnoreCaseAppliesToLiteralMatchersButNotToRegexes) {
  EXPECT_EQ(Selected(ById([](auto* m) { m->set_exact("EDGE-Envoy-1"); })), V{});
  EXPECT_EQ(Selected(ById([](auto* m) {
              m->set_exact("EDGE-Envoy-1");
              m->set_ignore_case(true);
            })),
            V{"edge-envoy-1"});
  EXPECT_EQ(Selected(ById([](auto* m) {
              m->set_suffix("ENVOY-2");
              m->set_ignore_case(true);
            })),
            V{"core-envoy-2"});
  EXPECT_EQ(Selected(ById([](auto* m) {
              m->set_contains("VOY");
              m->set_ignore_case(true);
            })),
            (V{"edge-envoy-1", "core-envoy-2"}));
  // As in Envoy, ignore_case has no effect on safe_regex.
  EXPECT_EQ(Selected(ById([](auto* m) {
              m->mutable_safe_regex()->set_regex("EDGE-.*");
              m->set_ignore_case(true);
            })),
            V{});
}

TEST_F(NodeMatcherTest, MatchersAreOredAndTheFieldsOfOneMatcherAnded) {
  RepeatedPtrField<NodeMatcher> ms;
  ms.Add()->mutable_node_id()->set_exact("edge-envoy-1");
  ms.Add()->mutable_node_id()->set_exact("core-envoy-2");
  EXPECT_EQ(Selected(ms), (V{"edge-envoy-1", "core-envoy-2"}));

  RepeatedPtrField<NodeMatcher> both;
  auto* m = both.Add();
  m->mutable_node_id()->set_suffix("-1");
  AtPath(m, {"zone"})->mutable_value()->mutable_string_match()->set_prefix("us-");
  EXPECT_EQ(Selected(both), V{}) << "edge-envoy-1 is not in a us- zone";
}

TEST_F(NodeMatcherTest, MetadataMatchersWalkThePathAndMatchEachValueKind) {
  auto one = [&](std::vector<std::string> path, const std::function<void(envoy::type::matcher::v3::ValueMatcher*)>& set) {
    RepeatedPtrField<NodeMatcher> ms;
    set(AtPath(ms.Add(), path)->mutable_value());
    return Selected(ms);
  };
  EXPECT_EQ(one({"labels", "tier"}, [](auto* v) { v->mutable_string_match()->set_exact("backend"); }),
            V{"core-envoy-2"});
  EXPECT_EQ(one({"canary"}, [](auto* v) { v->set_bool_match(true); }), V{"edge-envoy-1"});
  EXPECT_EQ(one({"weight"}, [](auto* v) { v->mutable_double_match()->set_exact(90); }), V{"core-envoy-2"});
  EXPECT_EQ(one({"weight"},
                [](auto* v) {
                  v->mutable_double_match()->mutable_range()->set_start(0);
                  v->mutable_double_match()->mutable_range()->set_end(10);
                }),
            V{}) << "a range's end is exclusive";
  EXPECT_EQ(one({"weight"},
                [](auto* v) {
                  v->mutable_double_match()->mutable_range()->set_start(10);
                  v->mutable_double_match()->mutable_range()->set_end(11);
                }),
            V{"edge-envoy-1"});
  EXPECT_EQ(one({"retired"}, [](auto* v) { v->mutable_null_match(); }), (V{"edge-envoy-1", "core-envoy-2"}));
  EXPECT_EQ(one({"roles"}, [](auto* v) {
              v->mutable_list_match()->mutable_one_of()->mutable_string_match()->set_exact("waf");
            }),
            V{"edge-envoy-1"});
  EXPECT_EQ(one({"zone"},
                [](auto* v) {
                  v->mutable_or_match()->add_value_matchers()->mutable_string_match()->set_prefix("us-");
                  v->mutable_or_match()->add_value_matchers()->mutable_string_match()->set_exact("ap-south-1");
                }),
            V{"core-envoy-2"});
  // A path that does not exist matches nothing but present_match: false.
  EXPECT_EQ(one({"labels", "owner"}, [](auto* v) { v->mutable_string_match()->set_prefix("a"); }), V{});
  EXPECT_EQ(one({"zone", "deeper"}, [](auto* v) { v->set_present_match(true); }), V{});
  EXPECT_EQ(one({"labels", "tier"}, [](auto* v) { v->set_present_match(true); }),
            (V{"edge-envoy-1", "core-envoy-2"}));
  EXPECT_EQ(one({"labels", "owner"}, [](auto* v) { v->set_present_match(false); }),
            (V{"edge-envoy-1", "core-envoy-2"}));
  // A value of another kind does not match.
  EXPECT_EQ(one({"weight"}, [](auto* v) { v->mutable_string_match()->set_exact("90"); }), V{});
}

TEST_F(NodeMatcherTest, ABadRegexIsRefusedNamingTheFieldAndThePattern) {
  std::string why = Refusal(ById([](auto* m) { m->mutable_safe_regex()->set_regex("edge-(envoy"); }));
  EXPECT_NE(why.find("node_matchers[0].node_id.safe_regex.regex"), std::string::npos) << why;
  EXPECT_NE(why.find("'edge-(envoy'"), std::string::npos) << why;
  EXPECT_NE(why.find("missing )"), std::string::npos) << why;
}

TEST_F(NodeMatcherTest, ARegexTooBigToCompileIsRefused) {
  // A thousand copies of a Unicode class: a program far beyond the memory one request may use.
  std::string why = Refusal(ById([](auto* m) { m->mutable_safe_regex()->set_regex("\\pL{1000}"); }));
  EXPECT_NE(why.find("node_matchers[0].node_id.safe_regex.regex"), std::string::npos) << why;
  EXPECT_NE(why.find("too large"), std::string::npos) << why;
}

TEST_F(NodeMatcherTest, UnsupportedOrIncompleteMatchersAreRefusedNamingThem) {
  EXPECT_NE(Refusal(ById([](auto* m) { m->mutable_custom()->set_name("acme.matcher"); }))
                .find("node_matchers[0].node_id.custom: custom string matchers ('acme.matcher') are not supported"),
            std::string::npos);
  EXPECT_NE(Refusal(ById([](auto* m) { m->set_ignore_case(true); })).find("node_matchers[0].node_id: no match_pattern"),
            std::string::npos);
  EXPECT_NE(Refusal(ById([](auto* m) { m->set_prefix(""); })).find("node_matchers[0].node_id.prefix: must not be empty"),
            std::string::npos);

  RepeatedPtrField<NodeMatcher> second_bad;
  second_bad.Add()->mutable_node_id()->set_exact("edge-envoy-1");
  auto* sm = AtPath(second_bad.Add(), {"zone"});
  sm->mutable_value()->mutable_or_match()->add_value_matchers()->set_bool_match(true);
  EXPECT_NE(Refusal(second_bad).find("node_matchers[1].node_metadatas[0].value.or_match.value_matchers: needs at least 2"),
            std::string::npos);

  RepeatedPtrField<NodeMatcher> no_path;
  no_path.Add()->add_node_metadatas()->mutable_value()->set_bool_match(true);
  EXPECT_NE(Refusal(no_path).find("node_matchers[0].node_metadatas[0].path"), std::string::npos);

  RepeatedPtrField<NodeMatcher> no_value;
  AtPath(no_value.Add(), {"zone"});
  EXPECT_NE(Refusal(no_value).find("node_matchers[0].node_metadatas[0].value: is required"), std::string::npos);

  RepeatedPtrField<NodeMatcher> nested;
  AtPath(nested.Add(), {"roles"})->mutable_value()->mutable_list_match()->mutable_one_of()->mutable_string_match()
      ->mutable_custom()->set_name("x");
  EXPECT_NE(Refusal(nested).find("node_metadatas[0].value.list_match.one_of.string_match.custom"), std::string::npos);
}

}  // namespace
}  // namespace tern::xds
