// zipml Python module: one backend's fit_on (core.hpp), compiled once per backend with
// ZIPML_PY_BACKEND set to its type (python/meson.build), so the backends compile in parallel.
#include "fit_on.hpp"

#ifndef ZIPML_PY_BACKEND
#error "compile with -DZIPML_PY_BACKEND=<backend type> (python/meson.build)"
#endif

template zipml::python::Trained zipml::python::fit_on<ZIPML_PY_BACKEND>(const Spec&, const Prepared&, const Trained*,
                                                                       const EpochCallback&);
