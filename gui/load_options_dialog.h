// The load options dialog: weight dtype and context length for one load, with the memory estimate
// (weights, KV cache, workspace, total) and the fit verdict for the chosen device's free memory
// updating as they change. The numbers come from core's estimateMemory/fitsIn, the same estimate
// the library and the engine use. The last choice is remembered in the settings.
#pragma once

#include <QDialog>

#include "engine_controller.h"
#include "model/model_library.h"

class QComboBox;
class QLabel;
class QSpinBox;

namespace hearth::gui {

// The context a load uses when none was chosen: the library's default estimate context
// (ModelEntry::estimate), so that a model the library says fits is loaded at that size.
inline constexpr std::int64_t kDefaultLoadContext = 8192;

// "auto" (as stored), "fp16", "bf16": the values kept under settings::kLoadDtype.
QString dtypeKey(WeightDType dtype);
WeightDType dtypeFromKey(const QString& key);
// Tensor bytes once loaded as `dtype`: as stored, or two bytes a parameter after conversion.
std::uint64_t weightBytesAs(const ModelEntry& entry, WeightDType dtype);
// The context a load of `entry` uses for a requested `contextLength` (0: the library's default,
// min(the model's, 8192)), capped at the model's max positions.
std::int64_t effectiveContext(const ModelEntry& entry, std::int64_t contextLength);
// The estimate for loading `entry` with `options` (core's estimateMemory).
MemoryEstimate estimateForLoad(const ModelEntry& entry, const LoadOptions& options);
// The options remembered from the last choice, made concrete for `entry` (explicit context).
LoadOptions rememberedLoadOptions(const ModelEntry& entry);

class LoadOptionsDialog : public QDialog {
    Q_OBJECT

public:
    // `freeBytes` of free memory on the device the model would run on, described by `where`
    // ("GPU 0 (NVIDIA H100)", "RAM"); 0 when unknown.
    LoadOptionsDialog(const ModelEntry& entry, std::uint64_t freeBytes, const QString& where, QWidget* parent = nullptr);

    LoadOptions options() const;
    MemoryEstimate estimate() const { return estimateForLoad(m_entry, options()); }
    // Saves the choice as the default for the next load (called on accept).
    void remember() const;

private:
    void update();

    ModelEntry m_entry;
    std::uint64_t m_freeBytes;
    QString m_where;
    QComboBox* m_dtype = nullptr;
    QSpinBox* m_context = nullptr;
    QLabel* m_weights = nullptr;
    QLabel* m_kv = nullptr;
    QLabel* m_workspace = nullptr;
    QLabel* m_total = nullptr;
    QLabel* m_fit = nullptr;
};

}  // namespace hearth::gui
