// zipml-train: one backend's train_on (settings.hpp), compiled once per backend with
// ZIPML_TRAIN_BACKEND set to its type (examples/meson.build), so the backends compile in
// parallel.
#include "train/train_on.hpp"

#ifndef ZIPML_TRAIN_BACKEND
#error "compile with -DZIPML_TRAIN_BACKEND=<backend type> (examples/meson.build)"
#endif

template zipml::train::RunResult zipml::train::train_on<ZIPML_TRAIN_BACKEND>(const Settings&, Data&,
                                                                            const std::string&, cli::Progress&);
