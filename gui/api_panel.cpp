#include "api_panel.h"

#include <QFormLayout>
#include <QGuiApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSpinBox>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "engine/engine.h"
#include "engine_controller.h"
#include "server/http_server.h"

namespace hearth::gui {

ApiPanel::ApiPanel(EngineController* engine, QWidget* parent) : QWidget(parent), m_controller(engine)
{
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    m_host = new QLineEdit(QStringLiteral("127.0.0.1"), this);
    m_host->setObjectName(QStringLiteral("apiHost"));
    m_host->setToolTip(tr("127.0.0.1 serves this computer only; another address needs an API key"));
    form->addRow(tr("Host"), m_host);
    m_port = new QSpinBox(this);
    m_port->setObjectName(QStringLiteral("apiPort"));
    m_port->setRange(0, 65535);
    m_port->setValue(kDefaultPort);
    m_port->setSpecialValueText(tr("any free port"));
    form->addRow(tr("Port"), m_port);

    auto* keyRow = new QHBoxLayout;
    m_apiKey = new QLineEdit(this);
    m_apiKey->setObjectName(QStringLiteral("apiKey"));
    m_apiKey->setPlaceholderText(tr("none (loopback only)"));
    auto* generate = new QPushButton(tr("Generate"), this);
    generate->setObjectName(QStringLiteral("apiGenerateKey"));
    auto* copyKey = new QPushButton(tr("Copy"), this);
    keyRow->addWidget(m_apiKey, 1);
    keyRow->addWidget(generate);
    keyRow->addWidget(copyKey);
    form->addRow(tr("API key"), keyRow);
    layout->addLayout(form);

    m_toggle = new QPushButton(tr("Start API server"), this);
    m_toggle->setObjectName(QStringLiteral("apiToggle"));
    layout->addWidget(m_toggle);
    m_state = new QLabel(this);
    m_state->setObjectName(QStringLiteral("apiState"));
    m_state->setWordWrap(true);
    layout->addWidget(m_state);
    m_url = new QLabel(this);
    m_url->setObjectName(QStringLiteral("apiUrl"));
    m_url->setWordWrap(true);
    m_url->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_url);
    layout->addStretch(1);

    connect(m_toggle, &QPushButton::clicked, this, &ApiPanel::toggle);
    connect(generate, &QPushButton::clicked, this, &ApiPanel::generateKey);
    connect(copyKey, &QPushButton::clicked, this, [this] { QGuiApplication::clipboard()->setText(m_apiKey->text()); });
    connect(&m_stopWatcher, &QFutureWatcher<void>::finished, this, [this] {
        m_engine.reset();
        showState();
        emit stopped();
    });
    showState();
}

ApiPanel::~ApiPanel()
{
    m_stopWatcher.waitForFinished();
    if (m_server) m_server->stop();
    m_server.reset();
}

int ApiPanel::port() const
{
    return m_server ? m_server->port() : 0;
}

QString ApiPanel::baseUrl() const
{
    if (!m_server) return {};
    QString host = m_host->text().trimmed();
    if (host == QLatin1String("0.0.0.0") || host == QLatin1String("::")) host = QStringLiteral("<this computer's address>");
    if (host.contains(QLatin1Char(':')) && !host.startsWith(QLatin1Char('<'))) host = QLatin1Char('[') + host + QLatin1Char(']');
    return QStringLiteral("http://%1:%2/v1").arg(host).arg(port());
}

bool ApiPanel::startServer()
{
    if (m_server || m_stopWatcher.isRunning()) return m_server != nullptr;
    m_lastError.clear();
    ServerOptions options;
    options.host = m_host->text().trimmed().toStdString();
    options.port = m_port->value();
    options.apiKey = m_apiKey->text().trimmed().toStdString();
    options.modelId = m_controller->modelPath().isEmpty() ? std::string{} : m_controller->modelPath().section(QLatin1Char('/'), -1, -1, QString::SectionSkipEmpty).toStdString();
    // Checked before the engine is created, so a refused host costs nothing.
    if (Status allowed = checkBindAllowed(options); !allowed) {
        m_lastError = QString::fromStdString(allowed.error().toString());
    } else if (std::shared_ptr<Engine> engine = m_controller->ensureEngine(&m_lastError)) {
        auto server = HttpServer::start(*engine, std::move(options));
        if (server) {
            m_engine = std::move(engine);
            m_server = std::move(server).value();
        } else {
            m_lastError = QString::fromStdString(server.error().toString());
        }
    }
    showState();
    if (!m_server) {
        emit startFailed(m_lastError);
        return false;
    }
    emit started(baseUrl());
    return true;
}

void ApiPanel::stopServer()
{
    if (!m_server || m_stopWatcher.isRunning()) return;
    // Joining the HTTP threads and cancelling requests in flight can take a moment: not on the GUI thread.
    std::shared_ptr<HttpServer> server(std::move(m_server));
    m_state->setText(tr("Stopping…"));
    m_toggle->setEnabled(false);
    m_stopWatcher.setFuture(QtConcurrent::run([server] { server->stop(); }));
}

void ApiPanel::toggle()
{
    if (m_server)
        stopServer();
    else
        startServer();
}

void ApiPanel::generateKey()
{
    static constexpr char kAlphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    QString key = QStringLiteral("sk-hearth-");
    for (int i = 0; i < 32; ++i)
        key += QLatin1Char(kAlphabet[QRandomGenerator::system()->bounded(static_cast<int>(sizeof(kAlphabet) - 1))]);
    m_apiKey->setText(key);
}

void ApiPanel::showState()
{
    const bool running = m_server != nullptr;
    m_toggle->setEnabled(!m_stopWatcher.isRunning());
    m_toggle->setText(running ? tr("Stop API server") : tr("Start API server"));
    m_host->setEnabled(!running);
    m_port->setEnabled(!running);
    m_apiKey->setReadOnly(running);
    if (running) {
        m_state->setText(tr("Listening on port %1").arg(port()));
        QString howTo = tr("In Open WebUI: Settings → Connections → OpenAI API, add the URL below");
        if (!m_apiKey->text().trimmed().isEmpty()) howTo += tr(" and the API key");
        m_url->setText(howTo + QStringLiteral(":\n") + baseUrl());
    } else {
        m_state->setText(m_lastError.isEmpty() ? tr("Off") : tr("Not started: %1").arg(m_lastError));
        m_url->clear();
    }
}

}  // namespace hearth::gui
