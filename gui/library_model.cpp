#include "library_model.h"

#include <QBrush>
#include <QColor>
#include <QFont>

#include <algorithm>

#include "demo_model.h"

namespace hearth::gui {

namespace {
QString qs(const std::string& s) { return QString::fromStdString(s); }
}  // namespace

LibraryModel::LibraryModel(QObject* parent) : QAbstractTableModel(parent) {}

void LibraryModel::setEntries(std::vector<ModelEntry> entries)
{
    beginResetModel();
    m_entries = std::move(entries);
    endResetModel();
}

void LibraryModel::setFreeMemory(std::uint64_t freeBytes, const QString& where)
{
    m_freeBytes = freeBytes;
    m_freeWhere = where;
    if (!m_entries.empty())
        emit dataChanged(index(0, Fit), index(rowCount() - 1, Fit));
}

void LibraryModel::setContextLength(std::int64_t contextLength)
{
    m_contextLength = std::max<std::int64_t>(0, contextLength);
    if (!m_entries.empty())
        emit dataChanged(index(0, Memory), index(rowCount() - 1, Fit));
}

void LibraryModel::setLoadedPath(const QString& path)
{
    m_loadedPath = path;
    if (!m_entries.empty())
        emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1), {Qt::FontRole});
}

int LibraryModel::rowOf(const QString& path) const
{
    for (std::size_t i = 0; i < m_entries.size(); ++i)
        if (QString::fromStdString(m_entries[i].path) == path)
            return static_cast<int>(i);
    return -1;
}

MemoryEstimate LibraryModel::estimateFor(const ModelEntry& entry) const
{
    std::int64_t ctx = m_contextLength;
    if (ctx > 0 && entry.contextLength > 0)
        ctx = std::min(ctx, entry.contextLength);
    return entry.estimate(ctx);
}

const ModelEntry* LibraryModel::entryAt(int row) const
{
    if (row < 0 || row >= rowCount())
        return nullptr;
    return &m_entries[static_cast<std::size_t>(row)];
}

int LibraryModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_entries.size());
}

int LibraryModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LibraryModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Name: return tr("Model");
    case Architecture: return tr("Architecture");
    case Parameters: return tr("Parameters");
    case Format: return tr("Format");
    case Size: return tr("Size");
    case Context: return tr("Context");
    case Tokenizer: return tr("Tokenizer");
    case Memory: return tr("Memory need");
    case Fit: return m_freeWhere.isEmpty() ? tr("Fits") : tr("Fits in %1").arg(m_freeWhere);
    default: return {};
    }
}

QVariant LibraryModel::displayData(const ModelEntry& e, int column) const
{
    if (column == Name) {
        if (isDemoModel(e.path))
            return tr("%1 (demo: random weights)").arg(qs(e.displayName));
        return qs(e.displayName);
    }
    if (!e.ok) {
        // Broken entries show their reason in the first free column instead of empty numbers.
        return column == Architecture ? tr("broken: %1").arg(qs(e.error)) : QVariant();
    }
    switch (column) {
    case Architecture: return qs(e.architecture);
    case Parameters: return qs(formatParameterCount(e.parameterCount));
    case Format: return QStringLiteral("%1 %2").arg(qs(e.format), qs(e.dtype));
    case Size: return qs(formatBytes(e.sizeOnDiskBytes));
    case Context: return e.contextLength > 0 ? QVariant(QString::number(e.contextLength)) : QVariant(tr("?"));
    case Tokenizer: return e.hasTokenizer ? tr("yes") : tr("missing");
    case Memory: {
        const MemoryEstimate m = estimateFor(e);
        return tr("%1 at %2 tokens").arg(qs(formatBytes(m.totalBytes))).arg(m.contextLength);
    }
    case Fit: {
        if (m_freeBytes == 0)
            return tr("unknown");
        switch (fitsIn(estimateFor(e).totalBytes, m_freeBytes)) {
        case FitVerdict::Fits: return tr("fits");
        case FitVerdict::Tight: return tr("tight");
        case FitVerdict::DoesNotFit: return tr("does not fit");
        }
        return {};
    }
    default: return {};
    }
}

QVariant LibraryModel::data(const QModelIndex& index, int role) const
{
    const ModelEntry* e = index.isValid() ? entryAt(index.row()) : nullptr;
    if (!e)
        return {};
    switch (role) {
    case Qt::DisplayRole:
        return displayData(*e, index.column());
    case Qt::FontRole:
        if (!m_loadedPath.isEmpty() && qs(e->path) == m_loadedPath) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    case Qt::ToolTipRole:
        if (!e->ok)
            return tr("%1\n%2").arg(qs(e->path), qs(e->error));
        if (isDemoModel(e->path))
            return tr("%1\nThe built-in demo model: random weights that produce nonsense, for trying the app.").arg(qs(e->path));
        return qs(e->path);
    case Qt::ForegroundRole:
        if (!e->ok)
            return QBrush(QColor(0xb0, 0x30, 0x30));
        if (index.column() == Fit && m_freeBytes > 0) {
            switch (fitsIn(estimateFor(*e).totalBytes, m_freeBytes)) {
            case FitVerdict::Fits: return QBrush(QColor(0x2e, 0x7d, 0x32));
            case FitVerdict::Tight: return QBrush(QColor(0xc7, 0x7c, 0x02));
            case FitVerdict::DoesNotFit: return QBrush(QColor(0xb0, 0x30, 0x30));
            }
        }
        return {};
    default:
        return {};
    }
}

}  // namespace hearth::gui
