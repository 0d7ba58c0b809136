#include "conversation_list.h"

#include <QAction>
#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QSaveFile>
#include <QShortcut>
#include <QVBoxLayout>

#include "store/conversation_export.h"

namespace hearth::gui {

ConversationList::ConversationList(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* buttons = new QHBoxLayout;
    auto* add = new QPushButton(tr("New chat"), this);
    add->setObjectName(QStringLiteral("newConversation"));
    add->setToolTip(tr("Start a new chat (Ctrl+N)"));
    auto* rename = new QPushButton(tr("Rename"), this);
    rename->setObjectName(QStringLiteral("renameConversation"));
    rename->setToolTip(tr("Rename the selected chat (F2)"));
    auto* remove = new QPushButton(tr("Delete"), this);
    remove->setObjectName(QStringLiteral("deleteConversation"));
    remove->setToolTip(tr("Delete the selected chat"));
    buttons->addWidget(add);
    buttons->addWidget(rename);
    buttons->addWidget(remove);
    layout->addLayout(buttons);

    m_search = new QLineEdit(this);
    m_search->setObjectName(QStringLiteral("conversationSearch"));
    m_search->setPlaceholderText(tr("Search conversations"));
    m_search->setClearButtonEnabled(true);
    layout->addWidget(m_search);
    m_list = new QListWidget(this);
    m_list->setObjectName(QStringLiteral("conversationList"));
    m_list->setContextMenuPolicy(Qt::CustomContextMenu);
    m_list->setToolTip(tr("Right-click for rename, delete, export and import"));
    layout->addWidget(m_list, 1);

    m_confirm = [this](const QString& title) {
        return QMessageBox::question(this, tr("Delete conversation"),
                                     tr("Delete \"%1\" and all its messages?").arg(title)) == QMessageBox::Yes;
    };
    // Window-wide so it works from the chat input too.
    auto* newShortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_N), this, add, &QPushButton::click,
                                      Qt::WindowShortcut);
    newShortcut->setObjectName(QStringLiteral("newChatShortcut"));
    auto* renameShortcut = new QShortcut(QKeySequence(Qt::Key_F2), m_list, this, &ConversationList::askRename,
                                         Qt::WidgetShortcut);
    renameShortcut->setObjectName(QStringLiteral("renameShortcut"));
    connect(add, &QPushButton::clicked, this, [this] {
        m_list->clearSelection();
        m_refreshing = true;
        m_list->setCurrentItem(nullptr);
        m_refreshing = false;
        emit newRequested();
    });
    connect(m_list, &QListWidget::customContextMenuRequested, this, &ConversationList::showMenu);
    connect(rename, &QPushButton::clicked, this, &ConversationList::askRename);
    connect(remove, &QPushButton::clicked, this, &ConversationList::deleteSelected);
    connect(m_search, &QLineEdit::textChanged, this, &ConversationList::refresh);
    connect(m_list, &QListWidget::currentItemChanged, this, [this] {
        if (!m_refreshing) emit conversationSelected(selected());
    });
}

void ConversationList::setStore(ConversationStore* store)
{
    m_store = store;
    refresh();
}

void ConversationList::refresh()
{
    const std::optional<ConversationId> keep = selected();
    m_refreshing = true;
    m_list->clear();
    if (m_store) {
        const QString query = m_search->text().trimmed();
        auto found = query.isEmpty() ? m_store->listConversations() : m_store->searchConversations(query.toStdString());
        if (!found) {
            emit errorOccurred(QString::fromStdString(found.error().toString()));
        } else {
            for (const ConversationInfo& info : *found) {
                auto* item = new QListWidgetItem(QString::fromStdString(info.title), m_list);
                item->setData(Qt::UserRole, QVariant::fromValue<qint64>(info.id));
                if (keep && *keep == info.id) m_list->setCurrentItem(item);
            }
        }
    }
    m_refreshing = false;
}

void ConversationList::select(std::optional<ConversationId> id)
{
    m_refreshing = true;
    m_list->setCurrentItem(nullptr);
    for (int row = 0; id && row < m_list->count(); ++row)
        if (m_list->item(row)->data(Qt::UserRole).toLongLong() == *id) m_list->setCurrentRow(row);
    m_refreshing = false;
}

std::optional<ConversationId> ConversationList::selected() const
{
    const QListWidgetItem* item = m_list->currentItem();
    if (!item) return std::nullopt;
    return item->data(Qt::UserRole).toLongLong();
}

void ConversationList::askRename()
{
    const QListWidgetItem* item = m_list->currentItem();
    if (!item) return;
    bool ok = false;
    const QString title = QInputDialog::getText(this, tr("Rename conversation"), tr("Title:"), QLineEdit::Normal,
                                                item->text(), &ok);
    if (ok) renameSelected(title);
}

void ConversationList::renameSelected(const QString& title)
{
    const auto id = selected();
    if (!m_store || !id || title.trimmed().isEmpty()) return;
    Status renamed = m_store->renameConversation(*id, title.trimmed().toStdString());
    if (!renamed) emit errorOccurred(QString::fromStdString(renamed.error().toString()));
    refresh();
}

void ConversationList::deleteSelected()
{
    const QListWidgetItem* item = m_list->currentItem();
    const auto id = selected();
    if (!m_store || !id || !m_confirm(item->text())) return;
    Status deleted = m_store->deleteConversation(*id);
    if (!deleted) emit errorOccurred(QString::fromStdString(deleted.error().toString()));
    refresh();
    emit conversationSelected(selected());
}

}  // namespace hearth::gui

namespace hearth::gui {

void ConversationList::showMenu(const QPoint& at)
{
    QMenu menu(this);
    const bool onItem = m_list->itemAt(at) != nullptr;
    if (onItem) m_list->setCurrentItem(m_list->itemAt(at));
    menu.addAction(tr("New chat"), QKeySequence(Qt::CTRL | Qt::Key_N), this, &ConversationList::newRequested);
    if (onItem) {
        menu.addAction(tr("Rename…"), QKeySequence(Qt::Key_F2), this, &ConversationList::askRename);
        menu.addAction(tr("Delete…"), this, &ConversationList::deleteSelected);
        menu.addSeparator();
        menu.addAction(tr("Export as JSON…"), this, [this] { askExport(false); });
        menu.addAction(tr("Export as Markdown…"), this, [this] { askExport(true); });
    }
    menu.addSeparator();
    menu.addAction(tr("Import JSON…"), this, &ConversationList::askImport);
    menu.exec(m_list->viewport()->mapToGlobal(at));
}

void ConversationList::askExport(bool markdown)
{
    const auto id = selected();
    if (!id || !m_list->currentItem()) return;
    // A title is not a safe file name: keep letters, digits and a few separators.
    QString base = m_list->currentItem()->text();
    base.replace(QRegularExpression(QStringLiteral("[^\\w\\- ]+")), QStringLiteral("_"));
    const QString suggested = base.trimmed().left(60) + (markdown ? QStringLiteral(".md") : QStringLiteral(".json"));
    const QString path = QFileDialog::getSaveFileName(
        this, markdown ? tr("Export conversation as Markdown") : tr("Export conversation as JSON"), suggested,
        markdown ? tr("Markdown (*.md)") : tr("Hearth conversation (*.json)"));
    if (path.isEmpty()) return;
    m_interactive = true;
    if (markdown) exportMarkdown(*id, path);
    else exportJson(*id, path);
    m_interactive = false;
}

void ConversationList::askImport()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Import conversation"), QString(),
                                                      tr("Hearth conversation (*.json);;All files (*)"));
    if (path.isEmpty()) return;
    m_interactive = true;
    importJson(path);
    m_interactive = false;
}

bool ConversationList::exportJson(ConversationId id, const QString& path)
{
    if (!m_store) return false;
    auto json = exportConversationJson(*m_store, id);
    if (!json) {
        fail(QString::fromStdString(json.error().toString()));
        return false;
    }
    return writeFile(path, *json);
}

bool ConversationList::exportMarkdown(ConversationId id, const QString& path)
{
    if (!m_store) return false;
    auto markdown = exportConversationMarkdown(*m_store, id);
    if (!markdown) {
        fail(QString::fromStdString(markdown.error().toString()));
        return false;
    }
    return writeFile(path, *markdown);
}

std::optional<ConversationId> ConversationList::importJson(const QString& path)
{
    if (!m_store) return std::nullopt;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        fail(tr("Could not read %1: %2").arg(path, file.errorString()));
        return std::nullopt;
    }
    const QByteArray bytes = file.readAll();
    auto imported = importConversationJson(*m_store, std::string_view(bytes.constData(), static_cast<std::size_t>(bytes.size())),
                                           path.toStdString());
    if (!imported) {
        fail(QString::fromStdString(imported.error().toString()));
        return std::nullopt;
    }
    m_search->clear();
    refresh();
    select(*imported);
    emit conversationSelected(*imported);
    return *imported;
}

bool ConversationList::writeFile(const QString& path, const std::string& text)
{
    // QSaveFile: a failed write leaves an existing file as it was.
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) ||
        file.write(text.data(), static_cast<qint64>(text.size())) != static_cast<qint64>(text.size()) || !file.commit()) {
        fail(tr("Could not write %1: %2").arg(path, file.errorString()));
        return false;
    }
    return true;
}

void ConversationList::fail(const QString& message)
{
    emit errorOccurred(message);
    if (m_interactive) QMessageBox::warning(this, tr("Conversations"), message);
}

}  // namespace hearth::gui
