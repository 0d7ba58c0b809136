#include "conversation_list.h"

#include <QHBoxLayout>
#include <QInputDialog>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

namespace hearth::gui {

ConversationList::ConversationList(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* buttons = new QHBoxLayout;
    auto* add = new QPushButton(tr("New chat"), this);
    add->setObjectName(QStringLiteral("newConversation"));
    auto* rename = new QPushButton(tr("Rename"), this);
    auto* remove = new QPushButton(tr("Delete"), this);
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
    layout->addWidget(m_list, 1);

    m_confirm = [this](const QString& title) {
        return QMessageBox::question(this, tr("Delete conversation"),
                                     tr("Delete \"%1\" and all its messages?").arg(title)) == QMessageBox::Yes;
    };
    connect(add, &QPushButton::clicked, this, [this] {
        m_list->clearSelection();
        emit newRequested();
    });
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
