// Internal to the fuzzers: a check that stops the run with a message. libFuzzer reports the
// abort as a crash and saves the input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define MAILOAUTH_FUZZ_CHECK(cond, what)                                 \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "fuzz check failed: %s (%s)\n", what, #cond); \
      std::abort();                                                      \
    }                                                                    \
  } while (false)
