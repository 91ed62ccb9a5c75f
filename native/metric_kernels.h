// The metric-learning passes of the addon (metric_kernels.cc), registered by Init in
// tripletjs_native.cc.
#pragma once

#include <node_api.h>

namespace tripletjs {

napi_value NormalizeRows(napi_env env, napi_callback_info info);
napi_value GramToMatrix(napi_env env, napi_callback_info info);
napi_value BatchHardMine(napi_env env, napi_callback_info info);
napi_value SemiHardMine(napi_env env, napi_callback_info info);
napi_value AllTripletsHinge(napi_env env, napi_callback_info info);
napi_value TripletMarginTerms(napi_env env, napi_callback_info info);
napi_value GramGradientSparse(napi_env env, napi_callback_info info);
napi_value GramGradientDense(napi_env env, napi_callback_info info);

}  // namespace tripletjs
