#include "translate/translator.h"
namespace tern::translate {
Translation Translate(const model::World&, const Options&) { return {}; }
}  // namespace tern::translate
