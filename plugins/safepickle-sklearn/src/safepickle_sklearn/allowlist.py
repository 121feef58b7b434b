"""The scikit-learn allow-list: the public estimator classes and the helpers their fitted
state holds, each with its reason; never functions that load, run or import code.

Found by fitting every estimator of ``sklearn.utils.all_estimators()`` on a tiny dataset
(``tests/sklearn_catalogue.py``), pickling it at protocols 2 and 5 and collecting the
globals (``discover_globals.py`` re-runs that for a new scikit-learn), then reviewed by hand.
Class paths are the defining modules pickle writes (``sklearn.linear_model._logistic``);
those have been stable since scikit-learn 0.24 moved its private modules.

Callables that a user stores in an estimator (``FunctionTransformer(func=...)``, a custom
``scoring=``) are not here: the user allows them by name for their load. The defaults some
estimators store (``FeatureAgglomeration(pooling_func=numpy.mean)``, ``f_classif`` as a
score function) are, narrowed where they would iterate a lazy range.
"""

from __future__ import annotations

import functools
import importlib
import types
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["ESTIMATOR_CLASSES", "SKLEARN_GLOBALS", "SKLEARN_SUBSTITUTES"]

#: every class of ``sklearn.utils.all_estimators()`` (scikit-learn 1.9), by defining module
ESTIMATOR_CLASSES = (
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.cluster._affinity_propagation.AffinityPropagation",
    "sklearn.cluster._agglomerative.AgglomerativeClustering",
    "sklearn.cluster._agglomerative.FeatureAgglomeration",
    "sklearn.cluster._bicluster.SpectralBiclustering",
    "sklearn.cluster._bicluster.SpectralCoclustering",
    "sklearn.cluster._birch.Birch",
    "sklearn.cluster._bisect_k_means.BisectingKMeans",
    "sklearn.cluster._dbscan.DBSCAN",
    "sklearn.cluster._hdbscan.hdbscan.HDBSCAN",
    "sklearn.cluster._kmeans.KMeans",
    "sklearn.cluster._kmeans.MiniBatchKMeans",
    "sklearn.cluster._mean_shift.MeanShift",
    "sklearn.cluster._optics.OPTICS",
    "sklearn.cluster._spectral.SpectralClustering",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.compose._target.TransformedTargetRegressor",
    "sklearn.covariance._elliptic_envelope.EllipticEnvelope",
    "sklearn.covariance._empirical_covariance.EmpiricalCovariance",
    "sklearn.covariance._graph_lasso.GraphicalLasso",
    "sklearn.covariance._graph_lasso.GraphicalLassoCV",
    "sklearn.covariance._robust_covariance.MinCovDet",
    "sklearn.covariance._shrunk_covariance.LedoitWolf",
    "sklearn.covariance._shrunk_covariance.OAS",
    "sklearn.covariance._shrunk_covariance.ShrunkCovariance",
    "sklearn.cross_decomposition._pls.CCA",
    "sklearn.cross_decomposition._pls.PLSCanonical",
    "sklearn.cross_decomposition._pls.PLSRegression",
    "sklearn.cross_decomposition._pls.PLSSVD",
    "sklearn.decomposition._dict_learning.DictionaryLearning",
    "sklearn.decomposition._dict_learning.MiniBatchDictionaryLearning",
    "sklearn.decomposition._dict_learning.SparseCoder",
    "sklearn.decomposition._factor_analysis.FactorAnalysis",
    "sklearn.decomposition._fastica.FastICA",
    "sklearn.decomposition._incremental_pca.IncrementalPCA",
    "sklearn.decomposition._kernel_pca.KernelPCA",
    "sklearn.decomposition._lda.LatentDirichletAllocation",
    "sklearn.decomposition._nmf.MiniBatchNMF",
    "sklearn.decomposition._nmf.NMF",
    "sklearn.decomposition._pca.PCA",
    "sklearn.decomposition._sparse_pca.MiniBatchSparsePCA",
    "sklearn.decomposition._sparse_pca.SparsePCA",
    "sklearn.decomposition._truncated_svd.TruncatedSVD",
    "sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
    "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis",
    "sklearn.dummy.DummyClassifier",
    "sklearn.dummy.DummyRegressor",
    "sklearn.ensemble._bagging.BaggingClassifier",
    "sklearn.ensemble._bagging.BaggingRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier",
    "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.RandomTreesEmbedding",
    "sklearn.ensemble._gb.GradientBoostingClassifier",
    "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.ensemble._stacking.StackingClassifier",
    "sklearn.ensemble._stacking.StackingRegressor",
    "sklearn.ensemble._voting.VotingClassifier",
    "sklearn.ensemble._voting.VotingRegressor",
    "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
    "sklearn.ensemble._weight_boosting.AdaBoostRegressor",
    "sklearn.feature_extraction._dict_vectorizer.DictVectorizer",
    "sklearn.feature_extraction._hash.FeatureHasher",
    "sklearn.feature_extraction.image.PatchExtractor",
    "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.feature_extraction.text.HashingVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_selection._from_model.SelectFromModel",
    "sklearn.feature_selection._rfe.RFE",
    "sklearn.feature_selection._rfe.RFECV",
    "sklearn.feature_selection._sequential.SequentialFeatureSelector",
    "sklearn.feature_selection._univariate_selection.GenericUnivariateSelect",
    "sklearn.feature_selection._univariate_selection.SelectFdr",
    "sklearn.feature_selection._univariate_selection.SelectFpr",
    "sklearn.feature_selection._univariate_selection.SelectFwe",
    "sklearn.feature_selection._univariate_selection.SelectKBest",
    "sklearn.feature_selection._univariate_selection.SelectPercentile",
    "sklearn.feature_selection._variance_threshold.VarianceThreshold",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.gaussian_process._gpc.GaussianProcessClassifier",
    "sklearn.gaussian_process._gpr.GaussianProcessRegressor",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.impute._knn.KNNImputer",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.kernel_approximation.AdditiveChi2Sampler",
    "sklearn.kernel_approximation.Nystroem",
    "sklearn.kernel_approximation.PolynomialCountSketch",
    "sklearn.kernel_approximation.RBFSampler",
    "sklearn.kernel_approximation.SkewedChi2Sampler",
    "sklearn.kernel_ridge.KernelRidge",
    "sklearn.linear_model._base.LinearRegression",
    "sklearn.linear_model._bayes.ARDRegression",
    "sklearn.linear_model._bayes.BayesianRidge",
    "sklearn.linear_model._coordinate_descent.ElasticNet",
    "sklearn.linear_model._coordinate_descent.ElasticNetCV",
    "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._coordinate_descent.LassoCV",
    "sklearn.linear_model._coordinate_descent.MultiTaskElasticNet",
    "sklearn.linear_model._coordinate_descent.MultiTaskElasticNetCV",
    "sklearn.linear_model._coordinate_descent.MultiTaskLasso",
    "sklearn.linear_model._coordinate_descent.MultiTaskLassoCV",
    "sklearn.linear_model._glm.glm.GammaRegressor",
    "sklearn.linear_model._glm.glm.PoissonRegressor",
    "sklearn.linear_model._glm.glm.TweedieRegressor",
    "sklearn.linear_model._huber.HuberRegressor",
    "sklearn.linear_model._least_angle.Lars",
    "sklearn.linear_model._least_angle.LarsCV",
    "sklearn.linear_model._least_angle.LassoLars",
    "sklearn.linear_model._least_angle.LassoLarsCV",
    "sklearn.linear_model._least_angle.LassoLarsIC",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._logistic.LogisticRegressionCV",
    "sklearn.linear_model._omp.OrthogonalMatchingPursuit",
    "sklearn.linear_model._omp.OrthogonalMatchingPursuitCV",
    "sklearn.linear_model._passive_aggressive.PassiveAggressiveClassifier",
    "sklearn.linear_model._passive_aggressive.PassiveAggressiveRegressor",
    "sklearn.linear_model._perceptron.Perceptron",
    "sklearn.linear_model._quantile.QuantileRegressor",
    "sklearn.linear_model._ransac.RANSACRegressor",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.linear_model._ridge.RidgeCV",
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.linear_model._ridge.RidgeClassifierCV",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDOneClassSVM",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.linear_model._theil_sen.TheilSenRegressor",
    "sklearn.manifold._classical_mds.ClassicalMDS",
    "sklearn.manifold._isomap.Isomap",
    "sklearn.manifold._locally_linear.LocallyLinearEmbedding",
    "sklearn.manifold._mds.MDS",
    "sklearn.manifold._spectral_embedding.SpectralEmbedding",
    "sklearn.manifold._t_sne.TSNE",
    "sklearn.mixture._bayesian_mixture.BayesianGaussianMixture",
    "sklearn.mixture._gaussian_mixture.GaussianMixture",
    "sklearn.model_selection._classification_threshold.FixedThresholdClassifier",
    "sklearn.model_selection._classification_threshold.TunedThresholdClassifierCV",
    "sklearn.model_selection._search.GridSearchCV",
    "sklearn.model_selection._search.RandomizedSearchCV",
    "sklearn.multiclass.OneVsOneClassifier",
    "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.multiclass.OutputCodeClassifier",
    "sklearn.multioutput.ClassifierChain",
    "sklearn.multioutput.MultiOutputClassifier",
    "sklearn.multioutput.MultiOutputRegressor",
    "sklearn.multioutput.RegressorChain",
    "sklearn.naive_bayes.BernoulliNB",
    "sklearn.naive_bayes.CategoricalNB",
    "sklearn.naive_bayes.ComplementNB",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.naive_bayes.MultinomialNB",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._classification.RadiusNeighborsClassifier",
    "sklearn.neighbors._graph.KNeighborsTransformer",
    "sklearn.neighbors._graph.RadiusNeighborsTransformer",
    "sklearn.neighbors._kde.KernelDensity",
    "sklearn.neighbors._lof.LocalOutlierFactor",
    "sklearn.neighbors._nca.NeighborhoodComponentsAnalysis",
    "sklearn.neighbors._nearest_centroid.NearestCentroid",
    "sklearn.neighbors._regression.KNeighborsRegressor",
    "sklearn.neighbors._regression.RadiusNeighborsRegressor",
    "sklearn.neighbors._unsupervised.NearestNeighbors",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
    "sklearn.neural_network._rbm.BernoulliRBM",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.Binarizer",
    "sklearn.preprocessing._data.KernelCenterer",
    "sklearn.preprocessing._data.MaxAbsScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.Normalizer",
    "sklearn.preprocessing._data.PowerTransformer",
    "sklearn.preprocessing._data.QuantileTransformer",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.preprocessing._label.MultiLabelBinarizer",
    "sklearn.preprocessing._polynomial.PolynomialFeatures",
    "sklearn.preprocessing._polynomial.SplineTransformer",
    "sklearn.preprocessing._target_encoder.TargetEncoder",
    "sklearn.random_projection.GaussianRandomProjection",
    "sklearn.random_projection.SparseRandomProjection",
    "sklearn.semi_supervised._label_propagation.LabelPropagation",
    "sklearn.semi_supervised._label_propagation.LabelSpreading",
    "sklearn.semi_supervised._self_training.SelfTrainingClassifier",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.svm._classes.LinearSVR",
    "sklearn.svm._classes.NuSVC",
    "sklearn.svm._classes.NuSVR",
    "sklearn.svm._classes.OneClassSVM",
    "sklearn.svm._classes.SVC",
    "sklearn.svm._classes.SVR",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.tree._classes.ExtraTreeRegressor",
)

_ESTIMATOR = (
    "a public scikit-learn estimator: rebuilt by cls.__new__ and BaseEstimator.__setstate__ "
    "(a dict update plus a version check); its constructor only stores its parameters"
)
_CLASS_STATE = "a helper class of fitted state: rebuilt by __new__ and a __dict__/__setstate__"
_CYTHON_STATE = (
    "a Cython class of fitted state: __reduce__ rebuilds it from its arrays and numbers "
    "(scikit-learn checks their dtypes; see the docs for what it does not check)"
)
_COMPUTE = "a pure computation on the arrays it is given; no I/O, imports or user callables"


def _no_range(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` without a ``range`` argument: numpy would materialise it (8 bytes an item)."""

    @functools.wraps(func)
    def narrowed(*args: Any, **kwargs: Any) -> Any:
        if any(isinstance(arg, range) for arg in (*args, *kwargs.values())):
            raise ValueError(f"safepickle_sklearn refuses {func.__name__}(range(...))")
        return func(*args, **kwargs)

    return narrowed


#: helper names -> why each is safe with any arguments
HELPERS: dict[str, str] = {
    "numpy.mean": "narrowed (no range argument): FeatureAgglomeration's default pooling_func",
    "scipy._lib.array_api_compat.numpy._aliases.asarray": "narrowed (no range argument): "
    "how scipy's BSpline pickles its knots",
    "scipy.interpolate._bsplines.BSpline": _CLASS_STATE + " (SplineTransformer's splines)",
    "scipy.sparse._csr.csr_matrix": _CLASS_STATE + " (SparseRandomProjection's components)",
    "sklearn._loss._loss.CyHalfGammaLoss": _CYTHON_STATE,
    "sklearn._loss._loss.CyHalfMultinomialLoss": _CYTHON_STATE,
    "sklearn._loss._loss.CyHalfPoissonLoss": _CYTHON_STATE,
    "sklearn._loss._loss.CyHalfSquaredError": _CYTHON_STATE,
    "sklearn._loss._loss.CyHalfTweedieLossIdentity": _CYTHON_STATE,
    "sklearn._loss._loss.__pyx_unpickle_CyHalfMultinomialLoss": "Cython's unpickler for "
    "CyHalfMultinomialLoss: cls.__new__ and fields set from the state",
    "sklearn._loss.link.IdentityLink": _CLASS_STATE,
    "sklearn._loss.link.Interval": _CLASS_STATE + " (a dataclass of two bounds)",
    "sklearn._loss.link.LogLink": _CLASS_STATE,
    "sklearn._loss.link.MultinomialLogit": _CLASS_STATE,
    "sklearn._loss.loss.HalfGammaLoss": _CLASS_STATE,
    "sklearn._loss.loss.HalfMultinomialLoss": _CLASS_STATE,
    "sklearn._loss.loss.HalfPoissonLoss": _CLASS_STATE,
    "sklearn._loss.loss.HalfSquaredError": _CLASS_STATE,
    "sklearn._loss.loss.HalfTweedieLossIdentity": _CLASS_STATE,
    "sklearn.calibration._CalibratedClassifier": _CLASS_STATE,
    "sklearn.calibration._SigmoidCalibration": _CLASS_STATE,
    "sklearn.cluster._birch._CFNode": _CLASS_STATE,
    "sklearn.cluster._birch._CFSubcluster": _CLASS_STATE,
    "sklearn.cluster._bisect_k_means._BisectingTree": _CLASS_STATE,
    "sklearn.cluster._kmeans._kmeans_single_lloyd": _COMPUTE + " (BisectingKMeans' "
    "algorithm; Lloyd iterations stop when the labels stop changing)",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper": _CLASS_STATE,
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor": _CLASS_STATE,
    "sklearn.feature_selection._univariate_selection.f_classif": _COMPUTE + " (the default "
    "score_func of SelectKBest and friends)",
    "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace": _CLASS_STATE,
    "sklearn.gaussian_process.kernels.ConstantKernel": _CLASS_STATE,
    "sklearn.gaussian_process.kernels.Product": _CLASS_STATE,
    "sklearn.gaussian_process.kernels.RBF": _CLASS_STATE,
    "sklearn.linear_model._sgd_fast.Hinge": _CYTHON_STATE,
    "sklearn.metrics._classification.balanced_accuracy_score": _COMPUTE,
    "sklearn.metrics._dist_metrics.EuclideanDistance64": _CYTHON_STATE,
    "sklearn.metrics._dist_metrics.newObj": "Cython's helper cls.__new__(cls), the same as "
    "copyreg.__newobj__ for a class the policy decided separately",
    "sklearn.metrics._scorer._CurveScorer": _CLASS_STATE + " (its score function is a "
    "global the policy decides separately)",
    "sklearn.metrics._scorer._PassthroughScorer": _CLASS_STATE,
    "sklearn.metrics._scorer._Scorer": _CLASS_STATE + " (its score function is a global "
    "the policy decides separately)",
    "sklearn.model_selection._split.KFold": _CLASS_STATE,
    "sklearn.multiclass._ConstantPredictor": _CLASS_STATE,
    "sklearn.neighbors._kd_tree.KDTree": _CYTHON_STATE,
    "sklearn.neighbors._kd_tree.newObj": "Cython's helper cls.__new__(cls), the same as "
    "copyreg.__newobj__ for a class the policy decided separately",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer": _CLASS_STATE,
    "sklearn.tree._tree.Tree": _CYTHON_STATE + " (Tree.__setstate__ checks the node dtype)",
    "sklearn.utils._bunch.Bunch": "a dict subclass with attribute access",
    "sklearn.utils._metadata_requests.MetadataRequest": _CLASS_STATE,
    "sklearn.utils._metadata_requests.MethodMetadataRequest": _CLASS_STATE,
}

#: canonical name -> why it is safe with any arguments
SKLEARN_GLOBALS: types.MappingProxyType[str, str] = types.MappingProxyType(
    {**dict.fromkeys(ESTIMATOR_CLASSES, _ESTIMATOR), **HELPERS}
)


def asarray(*args: Any, **kwargs: Any) -> Any:
    """scipy's array-API ``asarray`` (BSpline keeps it as an attribute), without a ``range``
    argument; scipy is imported on first use, not when the plugin is."""
    aliases: Any = importlib.import_module("scipy._lib.array_api_compat.numpy._aliases")
    return _no_range(aliases.asarray)(*args, **kwargs)


#: dotted name -> the narrowed callable handed out instead
SKLEARN_SUBSTITUTES: types.MappingProxyType[str, Callable[..., Any]] = types.MappingProxyType(
    {
        "numpy.mean": _no_range(np.mean),
        "scipy._lib.array_api_compat.numpy._aliases.asarray": asarray,
    }
)
