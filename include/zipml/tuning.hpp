// zipml — the defaults chosen from the data: step, scaling, sample order and stopping.
#ifndef ZIPML_TUNING_HPP
#define ZIPML_TUNING_HPP

#include "zipml/tuning/order.hpp"
#include "zipml/tuning/scaling.hpp"
#include "zipml/tuning/step.hpp"
#include "zipml/tuning/stopping.hpp"

#endif
