// Ctrl+C during a long operation (copy, export, import, build): the tool catches SIGINT and
// SIGTERM into a flag instead of dying, so the operation stops at its next step and rolls
// back what it made. Helper programs it runs still get the terminal's SIGINT and fail.
#pragma once

namespace cove {

void catch_interrupts();
bool interrupted();

}  // namespace cove
