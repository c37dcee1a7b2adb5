// attrib: the public library entry. Explicit named exports only.
export {
  AttributionError,
  InvalidArgumentError,
  ShapeMismatchError,
  CapabilityError,
  BudgetExceededError,
  AbortedError,
  UnknownMethodError,
  UnknownHookError,
  ModelLoadError,
  FileFormatError,
  BackendError,
  isAttributionError,
  exitCodeFor,
} from './core/errors.js';
export type { ErrorCode } from './core/errors.js';
export type { Target, Objective, Baseline, RunControl, Progress, AttributeOptions, Attributor, AttributionLike, MethodId } from './core/types.js';
export {
  FeatureAttribution,
  LayerAttribution,
  ComponentAttribution,
  DataAttribution,
  ContextAttribution,
  ATTRIBUTION_KINDS,
  isFeatureAttribution,
  isLayerAttribution,
  isComponentAttribution,
  isDataAttribution,
  isContextAttribution,
} from './core/result.js';
export type { Diagnostics, AttributionResult, AttributionKind, ComponentAxis, SourceSpan } from './core/result.js';
export { attributionJson, ATTRIBUTION_JSON_SCHEMA } from './io/result-json.js';
export type { AttributionJson, DiagnosticsJson } from './io/result-json.js';
export { quadrature, gaussLegendre, adaptiveNodes, QUADRATURE_RULES } from './core/quadrature.js';
export type { QuadratureRule, Quadrature } from './core/quadrature.js';
export { Rng } from './core/random.js';
export { withScope } from './core/scope.js';
export { METHODS, findMethod, layerOf, defaultLayer, defineMethod } from './methods.js';
export type { MethodDescriptor, OptionSpec, MethodSettings, OptionDecl, OptionDecls, OptionDefaults, CatalogueAttributor, CatalogueOptions, MethodLookup } from './methods.js';
export { pearson } from './core/linalg.js';

export { isDifferentiable, isHooked } from './models/model.js';
export { hasHookGradients, hasParameterGradients, requireCapability, inputSpecsOf, batchOf } from './models/capabilities.js';
export type { HookGradients, HookGradientModel, ParameterGradientModel, ParameterReduction, Capability } from './models/capabilities.js';
export type {
  ModelAdapter,
  DifferentiableModel,
  ModelCapabilities,
  InputSpec,
  InputRole,
  HookedModel,
  HookFn,
  RunOptions,
  ActivationRule,
  ActivationSite,
  ActivationCacheLike,
  CallContext,
  LayerCall,
  LayerRule,
  LayerInfo,
  RuleSet,
  AffineMap,
} from './models/model.js';
export { fromLayersModel, LayersModelAdapter } from './models/tfjs/layers-model.js';
export { ActivationCache } from './models/activation-cache.js';
export type { LayersModelOptions } from './models/tfjs/layers-model.js';
export { fromGraphModel } from './models/tfjs/graph-model.js';
export type { GraphModelOptions } from './models/tfjs/graph-model.js';
export { fromFunction } from './models/tfjs/function-model.js';
export type { FunctionModelOptions } from './models/tfjs/function-model.js';
export { fromBatchFunction } from './models/batch-function.js';
export type { PlainBatch, BatchFunctionOptions } from './models/batch-function.js';
export { fromOnnxSession } from './models/onnx/session.js';
export type { OnnxModelOptions, OrtModule } from './models/onnx/session.js';
export { exportLayersModel, EXPORTABLE_LAYERS, EXPORTABLE_ACTIVATIONS } from './models/onnx/export/from-layers.js';
export { exportGraphModel, EXPORTABLE_GRAPH_OPS, type GraphExport, type GraphExportOptions } from './models/onnx/export/from-graph.js';
export type { OnnxExportOptions } from './models/onnx/export/from-layers.js';
export { maxPool2dFirstMax, maxPool1dFirstMax, globalMaxPoolFirstMax } from './models/tfjs/pooling.js';

export { Saliency } from './attr/gradient/saliency.js';
export type { SaliencyOptions } from './attr/gradient/saliency.js';
export { InputXGradient } from './attr/gradient/input-x-gradient.js';
export { IntegratedGradients } from './attr/gradient/integrated-gradients.js';
export type { IntegratedGradientsOptions, IntegratedGradientsRule, FixedPathOptions } from './attr/gradient/integrated-gradients.js';
export { INTEGRATED_GRADIENTS_RULES } from './attr/gradient/integrated-gradients.js';
export { NoiseTunnel, NOISE_TUNNEL_TYPES } from './attr/gradient/noise-tunnel.js';
export type { NoiseTunnelOptions, NoiseTunnelType } from './attr/gradient/noise-tunnel.js';
export { GradientShap, ExpectedGradients } from './attr/gradient/gradient-shap.js';
export type { GradientShapOptions } from './attr/gradient/gradient-shap.js';
export { Occlusion } from './attr/perturbation/occlusion.js';
export type { OcclusionOptions } from './attr/perturbation/occlusion.js';
export { FeatureAblation } from './attr/perturbation/feature-ablation.js';
export type { FeatureAblationOptions } from './attr/perturbation/feature-ablation.js';
export { FeaturePermutation } from './attr/perturbation/feature-permutation.js';
export type { FeaturePermutationOptions } from './attr/perturbation/feature-permutation.js';
export { ShapleyValues, ShapleyValueSampling, MAX_EXACT_FEATURES } from './attr/perturbation/shapley.js';
export type { ShapleySamplingOptions } from './attr/perturbation/shapley.js';
export { KernelShap } from './attr/perturbation/kernel-shap.js';
export type { KernelShapOptions } from './attr/perturbation/kernel-shap.js';
export { Lime } from './attr/perturbation/lime.js';
export type { LimeOptions, LimeSurrogate } from './attr/perturbation/lime.js';
export { RandomAttribution } from './attr/random.js';
export { Rise, riseMask } from './attr/sensitivity/rise.js';
export type { RiseOptions } from './attr/sensitivity/rise.js';
export { Sobol, replicatedDesign, jansenTotalIndices } from './attr/sensitivity/sobol.js';
export type { SobolOptions } from './attr/sensitivity/sobol.js';
export { SOBOL_PERTURBATIONS, boxBlur, regionVariables } from './attr/sensitivity/gsa.js';
export { Hsic, hsicScores, binaryDesign } from './attr/sensitivity/hsic.js';
export { ExtremalPerturbation } from './attr/sensitivity/extremal.js';
export { Lima, LIMA_SEARCHES, rank as limaRank } from './attr/sensitivity/lima.js';
export type { LimaOptions, LimaSearch, LimaRanking } from './attr/sensitivity/lima.js';
export type { ExtremalPerturbationOptions } from './attr/sensitivity/extremal.js';
export type { HsicOptions } from './attr/sensitivity/hsic.js';
export type { GsaOptions, SobolPerturbation } from './attr/sensitivity/gsa.js';
export { SobolSequence, primitivePolynomials } from './attr/sensitivity/sobol-sequence.js';
export { LayerActivation } from './attr/layer/layer-activation.js';
export type { LayerActivationOptions } from './attr/layer/layer-activation.js';
export { LayerGradientXActivation } from './attr/layer/layer-gradient-x-activation.js';
export { LayerIntegratedGradients } from './attr/layer/layer-integrated-gradients.js';
export { LayerConductance } from './attr/layer/layer-conductance.js';
export { InternalInfluence } from './attr/layer/internal-influence.js';
export { LayerGradCam, GradCamPlusPlus, LayerCam, UPSAMPLE_MODES } from './attr/layer/cam.js';
export type { CamOptions, UpsampleMode } from './attr/layer/cam.js';
export { ScoreCam } from './attr/layer/score-cam.js';
export { NeuronGradient, NeuronIntegratedGradients, NeuronConductance, neuronIndex } from './attr/layer/neuron.js';
export type { NeuronIndex, NeuronOptions, NeuronIntegratedGradientsOptions, NeuronConductanceOptions } from './attr/layer/neuron.js';
export type { LayerMethodSettings } from './attr/layer/internal.js';
export { GuidedBackprop, Deconvolution, GUIDED_RELU, DECONV_RELU, reluWithBackward } from './attr/backprop/guided-backprop.js';
export { GuidedGradCam } from './attr/backprop/guided-gradcam.js';
export type { GuidedGradCamOptions } from './attr/backprop/guided-gradcam.js';
export { DeepLift, DeepLiftShap, RESCALE, EXACT_MAXPOOL, DEEPLIFT_MAXPOOL, rescaleAttributions, deepLiftRules } from './attr/backprop/deeplift.js';
export type { DeepLiftSettings, DeepLiftMaxPool } from './attr/backprop/deeplift.js';
export { LayerDeepLift } from './attr/layer/layer-deeplift.js';
export { Lrp, lrpAffine, LRP_PRESETS } from './attr/backprop/lrp.js';
export type { LrpRule, LrpPreset, LrpSettings } from './attr/backprop/lrp.js';
export { slic, textSpanMask, TEXT_SPANS } from './attr/segmentation.js';
export type { SlicOptions, ImageRow, TextSpan } from './attr/segmentation.js';
export { blurBaseline, noiseBaseline } from './attr/baselines.js';
export { resolveFeatureMask, gridMask, tokenMask, columnGroupMask } from './attr/masks.js';
export type { FeatureMask, FeatureMaskInput, FeatureGroups } from './attr/masks.js';

export { parseTensorJson, tensorToJsonValue } from './io/tensor-json.js';
export type { TensorData } from './io/tensor-json.js';
export { parseNpy, encodeNpy } from './io/npy.js';
export { parseVocabulary, tokenize, MAX_VOCABULARY } from './io/vocab.js';
export type { Vocabulary, TokenizedText } from './io/vocab.js';
export {
  normalizePixels,
  denormalizePixels,
  transposeImage,
  inferLayout,
  resizeImage,
  resizePlan,
  preprocessImage,
  displayImages,
  describeNormalization,
  RESIZE_POLICIES,
  IMAGE_LAYOUTS,
} from './io/preprocess.js';
export type { PixelNormalization, ImageLayout, ResizePolicy, ResizeInfo, Preprocessing, PreprocessOptions } from './io/preprocess.js';
export { parseLabels, parseFeatureNames, checkLabels, isSparseLabels, MAX_NAMES } from './io/labels.js';
export type { ClassLabels } from './io/labels.js';
export { modelMetadata } from './io/model-metadata.js';
export type { ModelMetadataDefaults } from './io/model-metadata.js';

export { deletionCurve, insertionCurve, trapezoid } from './metrics/deletion.js';
export type { Curve, CurveOptions } from './metrics/deletion.js';
export { infidelity } from './metrics/infidelity.js';
export type { InfidelityOptions, InfidelityPerturbation } from './metrics/infidelity.js';
export { sensitivityMax } from './metrics/sensitivity.js';
export type { SensitivityOptions } from './metrics/sensitivity.js';
export { groundTruthScores } from './metrics/ground-truth.js';
export { muFidelity } from './metrics/mufidelity.js';
export type { MuFidelityOptions } from './metrics/mufidelity.js';
export { roadCurve } from './metrics/road.js';
export type { RoadOptions, RoadCurve } from './metrics/road.js';
export { sparseness, complexity } from './metrics/complexity.js';
export type { GroundTruthScores } from './metrics/ground-truth.js';
export { modelRandomization } from './metrics/randomization.js';
export type { RandomizationOptions, RandomizationReport, RandomizationStep } from './metrics/randomization.js';

export { attributeContext, CONTEXT_METHODS } from './context/attribute-context.js';
export type { ContextAttributeOptions, ContextRun, ContextRunDiagnostics, ContextMethodId } from './context/attribute-context.js';
export { connect } from './context/connect.js';
export type { ConnectOptions } from './context/connect.js';
export { HttpClient } from './context/http.js';
export type { HttpOptions } from './context/http.js';
export { splitSources, checkSpans, SOURCE_UNITS } from './context/sources.js';
export type { SourceUnit } from './context/sources.js';
export { PromptBuilder, DEFAULT_TEMPLATE } from './context/prompt.js';
export type { AblationOptions } from './context/prompt.js';
export { ResponseLogProb, resolveResponseSpan, logitOfLogProb } from './context/scorer.js';
export type { ResponseSpan, ScoreStore } from './context/scorer.js';
export { API_NAMES } from './context/scorers/tokens.js';
export type { LogProbApi, TokenScore, ApiName } from './context/scorers/tokens.js';
export { ablationLds, topKDrop } from './context/evaluate.js';
export type { TopKDrop } from './context/evaluate.js';
export { LocalLmApi } from './context/scorers/local.js';
export type { LocalLanguageModel, LocalLmOptions, OffsetTokenizer } from './context/scorers/local.js';
export type { ScoringClient } from './context/scorers/tokens.js';
export { WordLevelTokenizer } from './models/transformer/word-level-tokenizer.js';
export type { OffsetToken } from './models/transformer/word-level-tokenizer.js';
export { contextHtml } from './viz/context-spans.js';
export type { ScoredSpan } from './viz/context-spans.js';
// transformers and their components (docs/transformers.md)
export { HookedTransformer, logitDifferenceCotangent } from './models/transformer/hooked-transformer.js';
export { PastKeyValues } from './models/transformer/past.js';
export type { HookedTransformerOptions, CachedRun, HookGradientRun, HookValues, MaskedPatch, OrtRuntime, RunOptions as TransformerRunOptions } from './models/transformer/hooked-transformer.js';
export { parseTransformerConfig, SUPPORTED_MODEL_TYPES } from './models/transformer/config.js';
export type { TransformerConfig, TransformerModelType } from './models/transformer/config.js';
export type { WeightStore, WeightTensor } from './models/transformer/weights.js';
export type { TokenInput } from './models/transformer/tokens.js';
export { SafetensorsFile, DEFAULT_SAFETENSORS_LIMITS } from './io/safetensors.js';
export type { SafetensorsLimits, SafetensorsEntry, SafetensorsDtype } from './io/safetensors.js';
export { encodeSafetensors } from './io/safetensors-write.js';
export { activationPatching } from './components/activation-patching.js';
export type { ActivationPatchingOptions } from './components/activation-patching.js';
export { attributionPatching } from './components/attribution-patching.js';
export { atpStar } from './components/atp-star.js';
export type { AtpStarOptions } from './components/atp-star.js';
export { atpStarDiagnostic, diagnosticJson, DIAGNOSTIC_DEFAULTS } from './components/atp-star-diagnostic.js';
export type { AtpStarDiagnostic, AtpStarDiagnosticOptions, UnverifiedNode, VerifiedNode } from './components/atp-star-diagnostic.js';
export { SubsetStatistics, thetaStar } from './components/subset-statistics.js';
export { diagnosticReportHtml } from './components/diagnostic-report.js';
export type { BoundCorrection, SubsetBound } from './components/subset-statistics.js';
export { studentTQuantile, studentTUpperTail } from './core/student-t.js';
export { directLogitAttribution, logitLens } from './components/logit-attribution.js';
export { NodeAttribution } from './components/node-attribution.js';
export { logitDifferenceMetric, logProbMetric, klDivergenceMetric } from './components/metric.js';
export type { ComponentMetric } from './components/metric.js';
export type { MetricValues } from './components/node-attribution.js';
export { componentNodes, DEFAULT_NODE_KINDS, nodeId, NODE_KINDS } from './components/nodes.js';
export type { ComponentNode, ComponentOptions, NodeKind, NodeScore } from './components/nodes.js';
export { COMPONENT_METHODS, COMPONENT_METHOD_IDS } from './components/component-methods.js';
export type { ComponentMethodId } from './components/component-methods.js';
export { COMPONENT_CATALOGUE, findComponentMethod } from './components/catalogue.js';
export type { ComponentMethodInfo } from './components/catalogue.js';
export { componentReportHtml } from './components/report.js';
export { hook as transformerHook } from './models/transformer/hook-names.js';
export type { TransformerHookName } from './models/transformer/hook-names.js';
// per-token attribution of generated text, tokenizers (docs/transformers.md)
export { TextTokenizer } from './models/transformer/tokenizer.js';
export { attributeResponse, segmentLogProbModel, LLM_PERTURBATION_METHODS } from './attr/llm/llm-attribution.js';
export type { TextAttribution, TextAttributionInput, LlmPerturbationMethod, LlmPerturbationOptions } from './attr/llm/llm-attribution.js';
export { embeddingIntegratedGradients } from './attr/llm/embedding-ig.js';
export type { EmbeddingIgOptions } from './attr/llm/embedding-ig.js';
export { explainResponse, textAttributionJson, LLM_METHODS } from './attr/llm/explain-response.js';
export type { ExplainResponseOptions, ExplainedResponse, LlmMethod } from './attr/llm/explain-response.js';
export { responseLogProbs, generateGreedy } from './attr/llm/response-logprob.js';
export type { GenerateOptions } from './attr/llm/response-logprob.js';
// training-data attribution (docs/data-attribution.md)
export { OnnxTrainingModel } from './data/onnx/training-model.js';
export type { TrainingModelOptions, OrtDoubleEngine } from './data/onnx/training-model.js';
export { denseLayers } from './data/onnx/dense-layers.js';
export type { DenseLayer, ParameterInfo } from './data/onnx/dense-layers.js';
export { InfluenceFunctions, HESSIAN_SOLVERS } from './data/influence.js';
export { kroneckerHessian } from './data/ekfac.js';
export type { KroneckerKind } from './data/ekfac.js';
export type { InfluenceOptions, HessianSolver } from './data/influence.js';
export { lissaSolver } from './data/lissa.js';
export type { LissaOptions } from './data/lissa.js';
export { Trak } from './data/trak.js';
export type { TrakOptions } from './data/trak.js';
export { TracIn } from './data/tracin.js';
export { Magic, trainFullBatch } from './data/magic.js';
export type { MagicOptions, TrainerOptions } from './data/magic.js';
export type { TracInOptions } from './data/tracin.js';
export { GradientSimilarity } from './data/grad-similarity.js';
export type { GradientSimilarityOptions } from './data/grad-similarity.js';
export { RandomProjection } from './data/projection.js';
export type { ProjectionKind, ProjectionOptions, GradientProjection } from './data/projection.js';
export { KroneckerProjection } from './data/kronecker-projection.js';
export { forEachGradient, gradientMatrix, objectiveGradient } from './data/gradients.js';
export type { GradientChunk, GradientObjective, GradientStreamOptions } from './data/gradients.js';
export { exactHessian, hessianVectorProduct } from './data/hessian.js';
export { lossGrad, marginGrad, LOSSES } from './data/loss.js';
export type { Examples, LossName } from './data/loss.js';
export { memoryRows, pairedRows } from './data/rows.js';
export type { TrainingRows, TrainingSet, RowBlock, RowArray } from './data/rows.js';
export { linearDatamodelingScore, leaveOneOutCorrelation, auroc } from './data/evaluation.js';
export { retrainedLds, topKRemoval, trainerRetrain } from './data/retraining.js';
export type { Retrain, RetrainedLdsOptions } from './data/retraining.js';
export { ranks, spearman } from './core/rank.js';
