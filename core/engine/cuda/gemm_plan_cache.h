// The GEMM plans a CUDA backend tuned at set-up (kernels::GemmContext::tune), kept on disk per
// card, so a model loaded again on the same card, driver, cuBLASLt and Hearth starts with them
// instead of timing every shape again behind the transfer. One JSON file per identity in the
// cache folder; a missing, unreadable or foreign file is simply no cache.
#pragma once

#include <string>
#include <vector>

#include "kernels.h"
#include "util/result.h"

namespace hearth::cuda {

// "NVIDIA H100 80GB HBM3 | driver 13000 | cuBLASLt 13.0.0 (130000) | hearth 0.1.0": what a
// cached plan is only valid for.
std::string gemmPlanIdentity(const std::string& deviceName, int driverVersion);
// The file for `identity` in `dir`.
std::string gemmPlanCachePath(const std::string& dir, const std::string& identity);
// The plans stored for `identity` at `path`; an error when there is no usable file.
Result<std::vector<kernels::GemmPlan>> readGemmPlans(const std::string& path, const std::string& identity);
// Writes (replaces) the file atomically, creating the folder.
Status writeGemmPlans(const std::string& path, const std::string& identity, const std::vector<kernels::GemmPlan>& plans);

}  // namespace hearth::cuda
