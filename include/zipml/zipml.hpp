// zipml — umbrella header: the policy layer, the data readers and the CPU backend.
#ifndef ZIPML_ZIPML_HPP
#define ZIPML_ZIPML_HPP

#include "zipml/arithmetic/engine.hpp"
#include "zipml/arithmetic/float.hpp"
#include "zipml/backend.hpp"
#include "zipml/concepts.hpp"
#include "zipml/data.hpp"
#include "zipml/linear_model.hpp"
#include "zipml/error.hpp"
#include "zipml/model/l2svm.hpp"
#include "zipml/model/least_squares.hpp"
#include "zipml/model/logistic.hpp"
#include "zipml/options.hpp"
#include "zipml/precision/float32.hpp"
#include "zipml/precision/quantized.hpp"
#include "zipml/precision/rounding.hpp"
#include "zipml/sgd.hpp"
#include "zipml/stream/format.hpp"
#include "zipml/stream/packed.hpp"
#include "zipml/stream/packer.hpp"
#include "zipml/stream/reader.hpp"
#include "zipml/tuning.hpp"

#include "zipml/backend/cpu.hpp"

#endif
