// zipml — binds a Verilated model's context to the calling thread.
//
// Out of line, in Verilator's runtime library (rtl/meson.build), because GCC 12's
// UndefinedBehaviorSanitizer reports the thread-local member access inside the inline
// Verilated::threadContextp() as a member access through a null pointer when it is compiled
// into an instrumented program, although the access is valid (AddressSanitizer agrees, and the
// uninstrumented builds run it on every clock). The runtime is compiled uninstrumented.
#include <verilated.h>

#include "zipml/backend/verilator/harness.hpp"

namespace zipml::verilator {

void bind_thread_context(VerilatedContext* context) noexcept { Verilated::threadContextp(context); }

} // namespace zipml::verilator
