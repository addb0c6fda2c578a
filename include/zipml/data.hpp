// zipml — everything that gets samples into memory: readers, scaling, checks.
#ifndef ZIPML_DATA_HPP
#define ZIPML_DATA_HPP

#include "zipml/data/dataset.hpp"
#include "zipml/data/fashion_mnist.hpp"
#include "zipml/data/gzfile.hpp"
#include "zipml/data/idx.hpp"
#include "zipml/data/libsvm.hpp"
#include "zipml/data/scaling.hpp"

#endif
