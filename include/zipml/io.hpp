// zipml — everything that saves and loads trained models.
#ifndef ZIPML_IO_HPP
#define ZIPML_IO_HPP

#include "zipml/io/model_file.hpp"

#endif
