<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>QObject</name>
    <message>
        <source>%1 tokens</source>
        <translation>%1 个 token</translation>
    </message>
    <message>
        <source>TTFT %1 ms</source>
        <translation>首字延迟 %1 ms</translation>
    </message>
    <message>
        <source>%1 tok/s</source>
        <translation>%1 token/秒</translation>
    </message>
    <message>
        <source>%1 of %2 prompt tokens cached</source>
        <translation>提示词 %2 个 token 中已缓存 %1 个</translation>
    </message>
    <message>
        <source>prompt %1 tokens, none cached</source>
        <translation>提示词 %1 个 token，均未缓存</translation>
    </message>
    <message>
        <source>Balanced</source>
        <translation>均衡</translation>
    </message>
    <message>
        <source>Qwen2.5&apos;s recommended chat settings: temperature 0.7, top-p 0.8, top-k 20, repetition penalty 1.05</source>
        <translation>Qwen2.5 推荐的对话设置：温度 0.7，top-p 0.8，top-k 20，重复惩罚 1.05</translation>
    </message>
    <message>
        <source>Precise</source>
        <translation>精确</translation>
    </message>
    <message>
        <source>Focused, factual answers and code: temperature 0.2, top-p 0.9</source>
        <translation>专注、重事实的回答与代码：温度 0.2，top-p 0.9</translation>
    </message>
    <message>
        <source>Creative</source>
        <translation>创意</translation>
    </message>
    <message>
        <source>Varied writing and brainstorming: temperature 1.0, top-p 0.95, min-p 0.05</source>
        <translation>多样化写作与头脑风暴：温度 1.0，top-p 0.95，min-p 0.05</translation>
    </message>
    <message>
        <source>Deterministic</source>
        <translation>确定性</translation>
    </message>
    <message>
        <source>Greedy decoding (temperature 0): the same prompt always gives the same reply</source>
        <translation>贪心解码（温度 0）：相同的提示词总是得到相同的回复</translation>
    </message>
    <message>
        <source>Temperature must be between 0 (greedy) and 5.</source>
        <translation>温度必须在 0（贪心）到 5 之间。</translation>
    </message>
    <message>
        <source>Top-p must be greater than 0 and at most 1.</source>
        <translation>Top-p 必须大于 0 且不超过 1。</translation>
    </message>
    <message>
        <source>Top-k must be 0 (off) or a positive number of tokens.</source>
        <translation>Top-k 必须为 0（关闭）或正整数个 token。</translation>
    </message>
    <message>
        <source>Min-p must be at least 0 and less than 1.</source>
        <translation>Min-p 必须不小于 0 且小于 1。</translation>
    </message>
    <message>
        <source>Max tokens must be between 1 and %1.</source>
        <translation>最大 token 数必须在 1 到 %1 之间。</translation>
    </message>
    <message>
        <source>Seed must be 0 or a positive whole number.</source>
        <translation>随机种子必须为 0 或正整数。</translation>
    </message>
    <message>
        <source>Repetition penalty must be greater than 0 and at most 10 (1 turns it off).</source>
        <translation>重复惩罚必须大于 0 且不超过 10（1 表示关闭）。</translation>
    </message>
</context>
<context>
    <name>QPlatformTheme</name>
    <message>
        <source>OK</source>
        <translation>确定</translation>
    </message>
    <message>
        <source>Save</source>
        <translation>保存</translation>
    </message>
    <message>
        <source>Save All</source>
        <translation>全部保存</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>打开</translation>
    </message>
    <message>
        <source>&amp;Yes</source>
        <translation>是(&amp;Y)</translation>
    </message>
    <message>
        <source>Yes to &amp;All</source>
        <translation>全部是(&amp;A)</translation>
    </message>
    <message>
        <source>&amp;No</source>
        <translation>否(&amp;N)</translation>
    </message>
    <message>
        <source>N&amp;o to All</source>
        <translation>全部否(&amp;O)</translation>
    </message>
    <message>
        <source>Abort</source>
        <translation>中止</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <source>Ignore</source>
        <translation>忽略</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Discard</source>
        <translation>放弃</translation>
    </message>
    <message>
        <source>Help</source>
        <translation>帮助</translation>
    </message>
    <message>
        <source>Apply</source>
        <translation>应用</translation>
    </message>
    <message>
        <source>Reset</source>
        <translation>重置</translation>
    </message>
    <message>
        <source>Restore Defaults</source>
        <translation>恢复默认值</translation>
    </message>
</context>
<context>
    <name>hearth::gui::ApiPanel</name>
    <message>
        <source>127.0.0.1 serves this computer only; another address needs an API key</source>
        <translation>127.0.0.1 仅供本机访问；使用其他地址需要设置 API 密钥</translation>
    </message>
    <message>
        <source>Host</source>
        <translation>主机</translation>
    </message>
    <message>
        <source>any free port</source>
        <translation>任意空闲端口</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <source>none (loopback only)</source>
        <translation>无（仅限本机回环地址）</translation>
    </message>
    <message>
        <source>Generate</source>
        <translation>生成</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <source>Start API server</source>
        <translation>启动 API 服务</translation>
    </message>
    <message>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <source>Stop API server</source>
        <translation>停止 API 服务</translation>
    </message>
    <message>
        <source>Listening on port %1</source>
        <translation>正在监听端口 %1</translation>
    </message>
    <message>
        <source>In Open WebUI: Settings → Connections → OpenAI API, add the URL below</source>
        <translation>在 Open WebUI 中：设置 → 外部连接 → OpenAI API，添加下面的地址</translation>
    </message>
    <message>
        <source> and the API key</source>
        <translation>，并填入 API 密钥</translation>
    </message>
    <message>
        <source>Off</source>
        <translation>已关闭</translation>
    </message>
    <message>
        <source>Not started: %1</source>
        <translation>未启动：%1</translation>
    </message>
</context>
<context>
    <name>hearth::gui::ChatInput</name>
    <message>
        <source>Type a message (Enter sends, Shift+Enter for a new line)</source>
        <translation>输入消息（Enter 发送，Shift+Enter 换行）</translation>
    </message>
</context>
<context>
    <name>hearth::gui::ChatView</name>
    <message>
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>&lt;b&gt;New chat&lt;/b&gt;</source>
        <translation>&lt;b&gt;新会话&lt;/b&gt;</translation>
    </message>
    <message>
        <source>Send (Enter or Ctrl+Enter; Shift+Enter for a new line)</source>
        <translation>发送（Enter 或 Ctrl+Enter；Shift+Enter 换行）</translation>
    </message>
    <message>
        <source>Stop the reply (Esc)</source>
        <translation>停止生成回复（Esc）</translation>
    </message>
    <message>
        <source>Delete messages</source>
        <translation>删除消息</translation>
    </message>
    <message numerus="yes">
        <source>Delete this message and the %n message(s) after it? Alternatives branching off after it go too.</source>
        <translation>
            <numerusform>要删除这条消息及其后的 %n 条消息吗？从它之后分出的其他版本也会一并删除。</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>hearth::gui::ConversationList</name>
    <message>
        <source>New chat</source>
        <translation>新建会话</translation>
    </message>
    <message>
        <source>Rename</source>
        <translation>重命名</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>搜索会话</translation>
    </message>
    <message>
        <source>Delete conversation</source>
        <translation>删除会话</translation>
    </message>
    <message>
        <source>Delete &quot;%1&quot; and all its messages?</source>
        <translation>要删除“%1”及其全部消息吗？</translation>
    </message>
    <message>
        <source>Rename conversation</source>
        <translation>重命名会话</translation>
    </message>
    <message>
        <source>Title:</source>
        <translation>标题：</translation>
    </message>
    <message>
        <source>Start a new chat (Ctrl+N)</source>
        <translation>新建会话（Ctrl+N）</translation>
    </message>
    <message>
        <source>Rename the selected chat (F2)</source>
        <translation>重命名所选会话（F2）</translation>
    </message>
    <message>
        <source>Delete the selected chat</source>
        <translation>删除所选会话</translation>
    </message>
    <message>
        <source>Right-click for rename, delete, export and import</source>
        <translation>右键可重命名、删除、导出和导入</translation>
    </message>
    <message>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <source>Export as JSON…</source>
        <translation>导出为 JSON…</translation>
    </message>
    <message>
        <source>Export as Markdown…</source>
        <translation>导出为 Markdown…</translation>
    </message>
    <message>
        <source>Import JSON…</source>
        <translation>导入 JSON…</translation>
    </message>
    <message>
        <source>Export conversation as Markdown</source>
        <translation>将会话导出为 Markdown</translation>
    </message>
    <message>
        <source>Export conversation as JSON</source>
        <translation>将会话导出为 JSON</translation>
    </message>
    <message>
        <source>Markdown (*.md)</source>
        <translation>Markdown (*.md)</translation>
    </message>
    <message>
        <source>Hearth conversation (*.json)</source>
        <translation>Hearth 会话 (*.json)</translation>
    </message>
    <message>
        <source>Import conversation</source>
        <translation>导入会话</translation>
    </message>
    <message>
        <source>Hearth conversation (*.json);;All files (*)</source>
        <translation>Hearth 会话 (*.json);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Could not read %1: %2</source>
        <translation>无法读取 %1：%2</translation>
    </message>
    <message>
        <source>Could not write %1: %2</source>
        <translation>无法写入 %1：%2</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>会话</translation>
    </message>
</context>
<context>
    <name>hearth::gui::ConversationSettingsDialog</name>
    <message>
        <source>Conversation settings</source>
        <translation>会话设置</translation>
    </message>
    <message>
        <source>e.g. You are a concise assistant. Answer in English.</source>
        <translation>例如：你是一个简洁的助手，请用中文回答。</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <source>Custom</source>
        <translation>自定义</translation>
    </message>
    <message>
        <source>Your own values</source>
        <translation>自己设定的参数</translation>
    </message>
    <message>
        <source>Preset</source>
        <translation>预设</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>0 is greedy (always the likeliest token); higher is more varied. 0 to 5.</source>
        <translation>0 为贪心解码（总是选概率最高的 token）；越高越多样。范围 0 到 5。</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Sample from the smallest set of tokens whose probabilities add up to this. Greater than 0, at most 1.</source>
        <translation>从累计概率达到该值的最小 token 集合中采样。大于 0，不超过 1。</translation>
    </message>
    <message>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <source>Sample from the k likeliest tokens; 0 turns it off.</source>
        <translation>从概率最高的 k 个 token 中采样；0 表示关闭。</translation>
    </message>
    <message>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <source>Drop tokens less likely than this fraction of the likeliest one. 0 to below 1.</source>
        <translation>丢弃概率低于“最高概率 × 该比例”的 token。范围 0 到 1（不含 1）。</translation>
    </message>
    <message>
        <source>Max tokens</source>
        <translation>最大 token 数</translation>
    </message>
    <message>
        <source>The longest reply, in tokens (default 1024).</source>
        <translation>回复的最大长度，以 token 计（默认 1024）。</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>The same seed and prompt give the same reply; empty is random.</source>
        <translation>相同的种子和提示词会得到相同的回复；留空则随机。</translation>
    </message>
    <message>
        <source>Repetition penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <source>Above 1 discourages repeating tokens already in the text; 1 turns it off.</source>
        <translation>大于 1 时抑制重复文中已出现的 token；1 表示关闭。</translation>
    </message>
    <message>
        <source>default</source>
        <translation>默认</translation>
    </message>
    <message>
        <source>%1: &quot;%2&quot; is not a number.</source>
        <translation>%1：“%2”不是数字。</translation>
    </message>
    <message>
        <source>%1: &quot;%2&quot; is not a whole number.</source>
        <translation>%1：“%2”不是整数。</translation>
    </message>
</context>
<context>
    <name>hearth::gui::EngineController</name>
    <message>
        <source>The new load options apply once the Local API is stopped and no reply is being written; this load uses the previous ones</source>
        <translation>新的加载选项将在本地 API 停止且没有正在生成的回复后生效；本次加载仍使用之前的选项</translation>
    </message>
    <message>
        <source>Loading was cancelled</source>
        <translation>加载已取消</translation>
    </message>
    <message>
        <source>Load a model before attaching an adapter</source>
        <translation>请先加载模型，再挂载适配器</translation>
    </message>
    <message>
        <source>No model is loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>%1 is still loading; cancel it before loading another model</source>
        <translation>%1 仍在加载；请先取消，再加载其他模型</translation>
    </message>
</context>
<context>
    <name>hearth::gui::FirstRunPanel</name>
    <message>
        <source>&lt;h3&gt;No models found&lt;/h3&gt;</source>
        <translation>&lt;h3&gt;未找到模型&lt;/h3&gt;</translation>
    </message>
    <message>
        <source>Add a folder…</source>
        <translation>添加文件夹…</translation>
    </message>
    <message>
        <source>Create the demo model</source>
        <translation>创建演示模型</translation>
    </message>
    <message>
        <source>A tiny model with random weights: it produces nonsense, but shows loading, chat and the local API working end to end. About 160 MB.</source>
        <translation>一个权重随机的微型模型：它的输出没有意义，但可以完整演示加载、对话和本地 API 的全过程。约 160 MB。</translation>
    </message>
    <message>
        <source>Writing the demo model…</source>
        <translation>正在生成演示模型…</translation>
    </message>
    <message>
        <source>Hearth found no model on this computer: none in %1, in the folders you added, or in the Hugging Face cache.</source>
        <translation>Hearth 在这台电脑上没有找到模型：%1、你添加的文件夹以及 Hugging Face 缓存中都没有。</translation>
    </message>
    <message>
        <source>Hearth found no model: none in %1 or in the folders you added.</source>
        <translation>Hearth 没有找到模型：%1 和你添加的文件夹中都没有。</translation>
    </message>
    <message>
        <source>Add a folder that holds models (Hugging Face folders with config.json and safetensors, or GGUF files), or create the small demo model to try the app.</source>
        <translation>请添加一个存放模型的文件夹（包含 config.json 和 safetensors 的 Hugging Face 模型文件夹，或 GGUF 文件），或者创建一个小型演示模型来试用本应用。</translation>
    </message>
</context>
<context>
    <name>hearth::gui::LibraryModel</name>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <source>Format</source>
        <translation>格式</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Context</source>
        <translation>上下文</translation>
    </message>
    <message>
        <source>Tokenizer</source>
        <translation>分词器</translation>
    </message>
    <message>
        <source>Memory need</source>
        <translation>内存需求</translation>
    </message>
    <message>
        <source>Fits</source>
        <translation>能否装下</translation>
    </message>
    <message>
        <source>Fits in %1</source>
        <translation>能否装入 %1</translation>
    </message>
    <message>
        <source>broken: %1</source>
        <translation>已损坏：%1</translation>
    </message>
    <message>
        <source>?</source>
        <translation>?</translation>
    </message>
    <message>
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <source>missing</source>
        <translation>缺失</translation>
    </message>
    <message>
        <source>%1 at %2 tokens</source>
        <translation>%1（%2 token 上下文）</translation>
    </message>
    <message>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>fits</source>
        <translation>可以装下</translation>
    </message>
    <message>
        <source>tight</source>
        <translation>勉强</translation>
    </message>
    <message>
        <source>does not fit</source>
        <translation>装不下</translation>
    </message>
    <message>
        <source>%1
%2</source>
        <translation>%1
%2</translation>
    </message>
    <message>
        <source>%1 (demo: random weights)</source>
        <translation>%1（演示：随机权重）</translation>
    </message>
    <message>
        <source>%1
The built-in demo model: random weights that produce nonsense, for trying the app.</source>
        <translation>%1
内置演示模型：权重随机，输出没有意义，仅用于试用本应用。</translation>
    </message>
</context>
<context>
    <name>hearth::gui::LibraryPanel</name>
    <message>
        <source>&lt;b&gt;Models&lt;/b&gt;</source>
        <translation>&lt;b&gt;模型&lt;/b&gt;</translation>
    </message>
    <message>
        <source>Scanning…</source>
        <translation>正在扫描…</translation>
    </message>
    <message>
        <source>Add folder…</source>
        <translation>添加文件夹…</translation>
    </message>
    <message>
        <source>Rescan</source>
        <translation>重新扫描</translation>
    </message>
    <message>
        <source>Add a folder with models</source>
        <translation>添加存放模型的文件夹</translation>
    </message>
    <message numerus="yes">
        <source>%n model(s)</source>
        <translation>
            <numerusform>%n 个模型</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>, %n broken (hover for the reason)</source>
        <translation>
            <numerusform>，%n 个已损坏（悬停查看原因）</numerusform>
        </translation>
    </message>
    <message>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <source>Load with options…</source>
        <translation>按选项加载…</translation>
    </message>
    <message>
        <source>Unload</source>
        <translation>卸载</translation>
    </message>
    <message>
        <source>Show in file manager</source>
        <translation>在文件管理器中显示</translation>
    </message>
    <message>
        <source>Delete model files…</source>
        <translation>删除模型文件…</translation>
    </message>
    <message>
        <source>Could not create the demo model: %1</source>
        <translation>无法创建演示模型：%1</translation>
    </message>
    <message>
        <source>%1 is loaded; unload it before deleting its files</source>
        <translation>%1 已加载；请先卸载，再删除它的文件</translation>
    </message>
    <message>
        <source>the folder %1 and everything in it</source>
        <translation>文件夹 %1 及其中的全部内容</translation>
    </message>
    <message numerus="yes">
        <source>%n file(s): %1</source>
        <translation>
            <numerusform>%n 个文件：%1</numerusform>
        </translation>
    </message>
    <message>
        <source>Delete %1?

This removes %2 (%3) from the disk. It cannot be undone.</source>
        <translation>要删除 %1 吗？

这会从磁盘上删除 %2（%3），且无法撤销。</translation>
    </message>
    <message>
        <source>

Every downloaded revision of this repository in the Hugging Face cache goes with it.</source>
        <translation>

Hugging Face 缓存中该仓库已下载的所有版本也会一并删除。</translation>
    </message>
    <message>
        <source>Delete model files</source>
        <translation>删除模型文件</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>No models yet</source>
        <translation>还没有模型</translation>
    </message>
</context>
<context>
    <name>hearth::gui::LoadOptionsDialog</name>
    <message>
        <source>Load %1</source>
        <translation>加载 %1</translation>
    </message>
    <message>
        <source>As stored (%1)</source>
        <translation>保持原格式（%1）</translation>
    </message>
    <message>
        <source>fp16</source>
        <translation>fp16</translation>
    </message>
    <message>
        <source>bf16</source>
        <translation>bf16</translation>
    </message>
    <message>
        <source>Weights as:</source>
        <translation>权重格式：</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> token</translation>
    </message>
    <message>
        <source>Context length:</source>
        <translation>上下文长度：</translation>
    </message>
    <message>
        <source>The model was trained for up to %1 tokens.</source>
        <translation>该模型训练时支持最长 %1 个 token。</translation>
    </message>
    <message>
        <source>The model does not say how long a context it supports.</source>
        <translation>该模型未说明支持的上下文长度。</translation>
    </message>
    <message>
        <source>Weights:</source>
        <translation>权重：</translation>
    </message>
    <message>
        <source>KV cache:</source>
        <translation>KV 缓存：</translation>
    </message>
    <message>
        <source>Workspace:</source>
        <translation>工作缓冲区：</translation>
    </message>
    <message>
        <source>Total:</source>
        <translation>合计：</translation>
    </message>
    <message>
        <source>Verdict:</source>
        <translation>结论：</translation>
    </message>
    <message>
        <source>Load</source>
        <translation>加载</translation>
    </message>
    <message>
        <source>%1 (%2 per token)</source>
        <translation>%1（每 token %2）</translation>
    </message>
    <message>
        <source>Free memory unknown: cannot say whether it fits.</source>
        <translation>可用内存未知：无法判断能否装下。</translation>
    </message>
    <message>
        <source>Fits in %1 (%2 free).</source>
        <translation>可以装入 %1（可用 %2）。</translation>
    </message>
    <message>
        <source>Tight in %1 (%2 free): may fail if other programs take memory.</source>
        <translation>装入 %1 较勉强（可用 %2）：如果其他程序占用内存，可能会加载失败。</translation>
    </message>
    <message>
        <source>Does not fit in %1 (%2 free): lower the context length or pick a smaller model.</source>
        <translation>%1 装不下（可用 %2）：请降低上下文长度或选择更小的模型。</translation>
    </message>
</context>
<context>
    <name>hearth::gui::LoadPanel</name>
    <message>
        <source>%1 ms</source>
        <translation>%1 毫秒</translation>
    </message>
    <message>
        <source>%1 s</source>
        <translation>%1 秒</translation>
    </message>
    <message>
        <source>%1 min %2 s</source>
        <translation>%1 分 %2 秒</translation>
    </message>
    <message>
        <source>opening files</source>
        <translation>打开文件</translation>
    </message>
    <message>
        <source>reading weights</source>
        <translation>读取权重</translation>
    </message>
    <message>
        <source>converting</source>
        <translation>转换</translation>
    </message>
    <message>
        <source>warming up</source>
        <translation>预热</translation>
    </message>
    <message>
        <source>ready</source>
        <translation>就绪</translation>
    </message>
    <message>
        <source>%1 %2</source>
        <translation>%1 %2</translation>
    </message>
    <message>
        <source>%1 (behind the transfer)</source>
        <translation>%1（与传输并行）</translation>
    </message>
    <message>
        <source>%1 more after it</source>
        <translation>之后又用 %1</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <source>Dismiss</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Loading %1</source>
        <translation>正在加载 %1</translation>
    </message>
    <message>
        <source>Stage: %1</source>
        <translation>阶段：%1</translation>
    </message>
    <message>
        <source>%1 of %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <source>%1/s</source>
        <translation>%1/s</translation>
    </message>
    <message>
        <source>about %1 left</source>
        <translation>剩余约 %1</translation>
    </message>
    <message>
        <source>%1 elapsed</source>
        <translation>已用 %1</translation>
    </message>
    <message>
        <source>%1 (%2%)</source>
        <translation>%1（%2%）</translation>
    </message>
    <message>
        <source>Files: %1 of %2 done</source>
        <translation>文件：已完成 %1 / %2</translation>
    </message>
    <message>
        <source> · now %1</source>
        <translation> · 当前 %1</translation>
    </message>
    <message>
        <source>File: %1</source>
        <translation>文件：%1</translation>
    </message>
    <message>
        <source>Loaded %1 in %2</source>
        <translation>%1 已加载，用时 %2</translation>
    </message>
    <message>
        <source>Ready on the %1 backend</source>
        <translation>已在 %1 后端就绪</translation>
    </message>
    <message>
        <source>%1 read</source>
        <translation>已读取 %1</translation>
    </message>
    <message>
        <source>Where the time went: %1</source>
        <translation>耗时分布：%1</translation>
    </message>
    <message>
        <source>This engine reported no per-stage timings for this load.</source>
        <translation>此引擎没有报告本次加载各阶段的耗时。</translation>
    </message>
    <message>
        <source>Could not load %1</source>
        <translation>无法加载 %1</translation>
    </message>
    <message>
        <source>Reason: %1</source>
        <translation>原因：%1</translation>
    </message>
    <message>
        <source>Before it stopped: %1</source>
        <translation>停止前：%1</translation>
    </message>
    <message>
        <source>Loading %1 was cancelled</source>
        <translation>已取消加载 %1</translation>
    </message>
    <message>
        <source>No model is loaded. Load one from the library when you are ready.</source>
        <translation>未加载模型。准备好后，请从模型库中加载一个。</translation>
    </message>
    <message>
        <source>reading the tokenizer</source>
        <translation>读取分词器</translation>
    </message>
    <message>
        <source>starting the GPU</source>
        <translation>启动 GPU</translation>
    </message>
    <message>
        <source>GPU math libraries and workspace</source>
        <translation>GPU 数学库与工作区</translation>
    </message>
    <message>
        <source>reserving the KV cache</source>
        <translation>预留 KV 缓存</translation>
    </message>
    <message>
        <source>reserving transfer buffers</source>
        <translation>预留传输缓冲区</translation>
    </message>
    <message>
        <source>choosing the fastest matrix kernels</source>
        <translation>选择最快的矩阵运算内核</translation>
    </message>
</context>
<context>
    <name>hearth::gui::LoraPanel</name>
    <message>
        <source>Adapters attached to the loaded model</source>
        <translation>已挂载到当前模型的适配器</translation>
    </message>
    <message>
        <source>Attach folder…</source>
        <translation>挂载文件夹…</translation>
    </message>
    <message>
        <source>Detach</source>
        <translation>卸载</translation>
    </message>
    <message>
        <source>This conversation uses</source>
        <translation>本会话使用</translation>
    </message>
    <message>
        <source>Scale</source>
        <translation>强度</translation>
    </message>
    <message>
        <source>Choose a PEFT adapter folder</source>
        <translation>选择 PEFT 适配器文件夹</translation>
    </message>
    <message>
        <source>Attached %1</source>
        <translation>已挂载 %1</translation>
    </message>
    <message>
        <source>Detached %1</source>
        <translation>已卸载 %1</translation>
    </message>
    <message>
        <source>Adapter %1 refused: %2</source>
        <translation>适配器 %1 被拒绝：%2</translation>
    </message>
    <message>
        <source>%1 has no adapter_config.json: not a PEFT adapter folder</source>
        <translation>%1 中没有 adapter_config.json：不是 PEFT 适配器文件夹</translation>
    </message>
    <message>
        <source>Attaching %1…</source>
        <translation>正在挂载 %1…</translation>
    </message>
    <message>
        <source>Select an adapter to detach</source>
        <translation>请选择要卸载的适配器</translation>
    </message>
    <message>
        <source>Base model (no adapter)</source>
        <translation>基础模型（无适配器）</translation>
    </message>
    <message>
        <source>%1 — %2</source>
        <translation>%1 — %2</translation>
    </message>
</context>
<context>
    <name>hearth::gui::MainWindow</name>
    <message>
        <source>Hearth</source>
        <translation>Hearth</translation>
    </message>
    <message>
        <source>Opening conversations…</source>
        <translation>正在打开会话…</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Looking for a GPU…</source>
        <translation>正在查找 GPU…</translation>
    </message>
    <message>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <source>LoRA</source>
        <translation>LoRA</translation>
    </message>
    <message>
        <source>Local API</source>
        <translation>本地 API</translation>
    </message>
    <message>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>Backend: probing…</source>
        <translation>后端：正在检测…</translation>
    </message>
    <message>
        <source>Ready: %1 (%2)</source>
        <translation>就绪：%1（%2）</translation>
    </message>
    <message>
        <source>Load failed: %1</source>
        <translation>加载失败：%1</translation>
    </message>
    <message>
        <source>The last used model is no longer at %1; pick one in the library</source>
        <translation>上次使用的模型已不在 %1；请在模型库中重新选择</translation>
    </message>
    <message>
        <source>Loading %1…</source>
        <translation>正在加载 %1…</translation>
    </message>
    <message>
        <source>Backend: %1</source>
        <translation>后端：%1</translation>
    </message>
    <message>
        <source>CUDA backend in this build: %1</source>
        <translation>此版本包含 CUDA 后端：%1</translation>
    </message>
    <message>
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <source>no</source>
        <translation>否</translation>
    </message>
    <message>
        <source>No usable GPU: %1. Models run on the CPU backend.</source>
        <translation>没有可用的 GPU：%1。模型将在 CPU 后端上运行。</translation>
    </message>
    <message>
        <source>GPU %1: %2 (compute %3.%4), %5 free of %6</source>
        <translation>GPU %1：%2（计算能力 %3.%4），可用 %5 / 共 %6</translation>
    </message>
    <message>
        <source>GPU</source>
        <translation>GPU</translation>
    </message>
    <message>
        <source>RAM</source>
        <translation>内存</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>Add model folder…</source>
        <translation>添加模型文件夹…</translation>
    </message>
    <message>
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>Load progress</source>
        <translation>加载进度</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>About Hearth</source>
        <translation>关于 Hearth</translation>
    </message>
    <message>
        <source>still probing</source>
        <translation>仍在检测</translation>
    </message>
    <message>
        <source>&lt;b&gt;Hearth %1&lt;/b&gt;&lt;p&gt;A desktop model manager and chat for local LLMs, with its own engine.&lt;/p&gt;&lt;p&gt;Backend: %2&lt;br&gt;Qt %3&lt;/p&gt;</source>
        <translation>&lt;b&gt;Hearth %1&lt;/b&gt;&lt;p&gt;本地大模型的桌面模型管理与对话应用，自带推理引擎。&lt;/p&gt;&lt;p&gt;后端：%2&lt;br&gt;Qt %3&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Hearth: %1 stays loaded</source>
        <translation>Hearth：%1 保持加载</translation>
    </message>
    <message>
        <source>No model loaded (loading at start-up is off in Settings)</source>
        <translation>未加载模型（设置中已关闭启动时加载）</translation>
    </message>
    <message>
        <source>The default model is no longer at %1; pick another in Settings</source>
        <translation>默认模型已不在 %1；请在设置中另选一个</translation>
    </message>
    <message>
        <source>GPU %1 (%2)</source>
        <translation>GPU %1（%2）</translation>
    </message>
    <message>
        <source>Loading: %1, %2 of %3</source>
        <translation>正在加载：%1，%2 / %3</translation>
    </message>
    <message>
        <source>Loading: %1…</source>
        <translation>正在加载：%1…</translation>
    </message>
    <message>
        <source>CPU (chosen in Settings)</source>
        <translation>CPU（在设置中选择）</translation>
    </message>
    <message>
        <source>Models run on the CPU backend, as chosen in Settings.</source>
        <translation>按设置中的选择，模型在 CPU 后端上运行。</translation>
    </message>
</context>
<context>
    <name>hearth::gui::MessageEditor</name>
    <message>
        <source>Ctrl+Enter: save and send · Esc: cancel</source>
        <translation>Ctrl+Enter：保存并发送 · Esc：取消</translation>
    </message>
</context>
<context>
    <name>hearth::gui::MessageWidget</name>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>Copy code %1</source>
        <translation>复制代码 %1</translation>
    </message>
    <message>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
    <message>
        <source>System</source>
        <translation>系统</translation>
    </message>
    <message>
        <source>Tool</source>
        <translation>工具</translation>
    </message>
    <message>
        <source>waiting for the model…</source>
        <translation>等待模型就绪…</translation>
    </message>
    <message>
        <source>writing…</source>
        <translation>正在生成…</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>interrupted</source>
        <translation>已中断</translation>
    </message>
    <message>
        <source>error: %1</source>
        <translation>错误：%1</translation>
    </message>
    <message>
        <source>Show the previous alternative</source>
        <translation>显示上一个版本</translation>
    </message>
    <message>
        <source>Show the next alternative</source>
        <translation>显示下一个版本</translation>
    </message>
    <message>
        <source>Copy the whole message</source>
        <translation>复制整条消息</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <source>Edit this message and send it again; the old version and its reply stay as an alternative</source>
        <translation>编辑这条消息并重新发送；旧版本及其回复会保留为另一个版本</translation>
    </message>
    <message>
        <source>Write another reply; this one stays as an alternative</source>
        <translation>重新生成回复；当前回复会保留为另一个版本</translation>
    </message>
    <message>
        <source>Delete this message and everything after it</source>
        <translation>删除这条消息及其后的全部内容</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Keep the message as it was (Esc)</source>
        <translation>保持消息原样（Esc）</translation>
    </message>
    <message>
        <source>Save &amp;&amp; send</source>
        <translation>保存并发送</translation>
    </message>
    <message>
        <source>Send the edited message as a new alternative (Ctrl+Enter)</source>
        <translation>将编辑后的消息作为新版本发送（Ctrl+Enter）</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>已复制</translation>
    </message>
</context>
<context>
    <name>hearth::gui::SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Engine</source>
        <translation>引擎</translation>
    </message>
    <message>
        <source>Appearance</source>
        <translation>外观</translation>
    </message>
    <message>
        <source>Changes are saved as you make them.</source>
        <translation>更改会立即保存。</translation>
    </message>
    <message>
        <source>Model folders:</source>
        <translation>模型文件夹：</translation>
    </message>
    <message>
        <source>Add…</source>
        <translation>添加…</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <source>Always scanned: %1</source>
        <translation>始终扫描：%1</translation>
    </message>
    <message>
        <source>Use the Hugging Face cache (%1)</source>
        <translation>使用 Hugging Face 缓存（%1）</translation>
    </message>
    <message>
        <source>The last used model</source>
        <translation>上次使用的模型</translation>
    </message>
    <message>
        <source>%1 (not in the library now)</source>
        <translation>%1（当前不在模型库中）</translation>
    </message>
    <message>
        <source>Default model:</source>
        <translation>默认模型：</translation>
    </message>
    <message>
        <source>Load it when Hearth starts</source>
        <translation>Hearth 启动时加载</translation>
    </message>
    <message>
        <source>Add a folder with models</source>
        <translation>添加存放模型的文件夹</translation>
    </message>
    <message>
        <source>GPU %1: %2 (%3 free)</source>
        <translation>GPU %1：%2（可用 %3）</translation>
    </message>
    <message>
        <source>CPU (no usable GPU found)</source>
        <translation>CPU（未找到可用的 GPU）</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>Run models on:</source>
        <translation>运行模型的设备：</translation>
    </message>
    <message>
        <source>Applies to the next load.</source>
        <translation>下次加载时生效。</translation>
    </message>
    <message>
        <source>No GPU is usable here (%1), so models run on the CPU backend.</source>
        <translation>这里没有可用的 GPU（%1），因此模型在 CPU 后端上运行。</translation>
    </message>
    <message>
        <source>Keep the model loaded when the window closes (in the system tray)</source>
        <translation>关闭窗口后保持模型加载（驻留系统托盘）</translation>
    </message>
    <message>
        <source>This desktop has no system tray, so closing the window quits Hearth and frees the model.</source>
        <translation>此桌面环境没有系统托盘，关闭窗口将退出 Hearth 并释放模型。</translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <source>Theme:</source>
        <translation>主题：</translation>
    </message>
    <message>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <source>A new language takes effect after Hearth restarts.</source>
        <translation>新的语言将在 Hearth 重启后生效。</translation>
    </message>
</context>
<context>
    <name>hearth::gui::Tray</name>
    <message>
        <source>Show Hearth</source>
        <translation>显示 Hearth</translation>
    </message>
    <message>
        <source>Quit Hearth</source>
        <translation>退出 Hearth</translation>
    </message>
</context>
</TS>
