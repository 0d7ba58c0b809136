// Qt item model over the core library scan: one row per model, broken ones included with
// their reason. The fit column compares the memory estimate with a free-memory figure the
// window supplies (free GPU memory, or available RAM when the CPU backend is used).
#pragma once

#include <QAbstractTableModel>

#include <vector>

#include "model/model_library.h"

namespace hearth::gui {

class LibraryModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { Name, Architecture, Parameters, Format, Size, Context, Tokenizer, Memory, Fit, ColumnCount };

    explicit LibraryModel(QObject* parent = nullptr);

    void setEntries(std::vector<ModelEntry> entries);
    // Free bytes the fit verdict is judged against, and what they are ("GPU" or "RAM").
    void setFreeMemory(std::uint64_t freeBytes, const QString& where);
    // The context length the Memory and Fit columns assume (0: each model's default estimate),
    // the one the next load will use (settings::kLoadContext).
    void setContextLength(std::int64_t contextLength);
    std::int64_t contextLength() const { return m_contextLength; }
    // The model the engine has (or is loading): its row is shown in bold.
    void setLoadedPath(const QString& path);
    const ModelEntry* entryAt(int row) const;
    // The row showing `path`, or -1.
    int rowOf(const QString& path) const;
    // The estimate a row shows: at the chosen context, capped at the model's max positions.
    MemoryEstimate estimateFor(const ModelEntry& entry) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QVariant displayData(const ModelEntry& e, int column) const;

    std::vector<ModelEntry> m_entries;
    std::uint64_t m_freeBytes = 0;
    std::int64_t m_contextLength = 0;
    QString m_loadedPath;
    QString m_freeWhere;
};

}  // namespace hearth::gui
